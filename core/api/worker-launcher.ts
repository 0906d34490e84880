/** Browser mode's (and the tests') way to start a training worker: a Node child process over IPC. */
import { fork } from 'node:child_process';
import type { LaunchWorker, WorkerCommand, WorkerReport } from './worker-protocol.ts';

// Compiled (.build/core/api/worker-launcher.js, scripts/build-cli.mjs) the worker is JavaScript too, and
// runs without tsx; from the sources it is TypeScript, run through tsx.
const compiled = import.meta.url.endsWith('.js');

/** The worker's module. */
export const WORKER_MODULE = new URL(compiled ? './worker.js' : './worker.ts', import.meta.url).pathname;

export const forkWorker: LaunchWorker = (modulePath) => {
  const child = fork(modulePath, ['--dg-training-worker'], { execArgv: modulePath.endsWith('.ts') ? ['--import', 'tsx'] : [], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  return {
    pid: child.pid,
    send: (message: WorkerCommand) => {
      if (child.connected) child.send(message);
    },
    onMessage: (listener) => child.on('message', (m) => listener(m as WorkerReport)),
    // 'close', not 'exit': it comes after the IPC channel is drained, so the last reports arrive first
    onExit: (listener) => child.once('close', (code) => listener(code)),
    kill: () => child.kill('SIGKILL'),
  };
};
