/** Browser mode's (and the tests') way to start a training worker: a Node child process over IPC. */
import { fork } from 'node:child_process';
import type { LaunchWorker, WorkerCommand, WorkerReport } from './worker-protocol.ts';

/** The worker's module. */
export const WORKER_MODULE = new URL('./worker.ts', import.meta.url).pathname;

export const forkWorker: LaunchWorker = (modulePath) => {
  const child = fork(modulePath, ['--dg-training-worker'], { execArgv: ['--import', 'tsx'], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  return {
    pid: child.pid,
    send: (message: WorkerCommand) => {
      if (child.connected) child.send(message);
    },
    onMessage: (listener) => child.on('message', (m) => listener(m as WorkerReport)),
    onExit: (listener) => child.once('exit', (code) => listener(code)),
    kill: () => child.kill('SIGKILL'),
  };
};
