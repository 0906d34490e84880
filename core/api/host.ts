/**
 * The contract served: validates every call's arguments with its schema, checks its file arguments
 * with the transport, runs the service method and turns every outcome into data. One host per store;
 * the Electron shell, browser mode and the tests all use it.
 */
import fs from 'node:fs';
import { isStoreError, Store, type StoreErrorCode } from '../store/index.ts';
import { ApiError, errorData, type ApiErrorData, type ErrorCode } from '../util/errors.ts';
import { fromRoot } from '../util/root.ts';
import { methodNames, methods, type MethodArgs, type MethodName } from './contract.ts';
import { Service } from './service.ts';
import type { ApiEvent, ApiHost, CallContext, CallOutcome } from './transport.ts';
import { forkWorker, WORKER_MODULE } from './worker-launcher.ts';
import type { LaunchWorker } from './worker-protocol.ts';

type Handlers = { [M in MethodName]: (service: Service, args: MethodArgs<M>) => unknown };

const handlers: Handlers = {
  'app.info': (s) => s.appInfo(),
  'files.inspect': (s, a) => s.inspect(a),
  'projects.list': (s) => s.listProjects(),
  'projects.create': (s, a) => s.createProject(a),
  'projects.get': (s, a) => s.getProject(a),
  'projects.createDemo': (s) => s.createDemoProject(),
  'datasets.import': (s, a) => s.importDataset(a),
  'datasets.get': (s, a) => s.getDataset(a),
  'datasets.preview': (s, a) => s.previewDataset(a),
  'schemas.list': (s, a) => s.listSchemas(a),
  'schemas.save': (s, a) => s.saveSchema(a),
  'training.plan': (s, a) => s.planTraining(a),
  'runs.start': (s, a) => s.startRun(a),
  'runs.get': (s, a) => s.getRun(a),
  'runs.progress': (s, a) => s.runProgress(a),
  'runs.pause': (s, a) => s.pauseRun(a),
  'runs.cancel': (s, a) => s.cancelRun(a),
  'runs.resume': (s, a) => s.resumeRun(a),
  'runs.importFolder': (s, a) => s.importRunFolder(a),
  'runs.exportModel': (s, a) => s.exportModel(a),
  'runs.generate': (s, a) => s.generate(a),
  'evaluations.create': (s, a) => s.evaluate(a),
  'evaluations.get': (s, a) => s.getEvaluation(a),
  'evaluations.charts': (s, a) => s.evaluationCharts(a),
  'runs.compare': (s, a) => s.compareRuns(a),
  'exports.create': (s, a) => s.createExport(a),
  'exports.list': (s, a) => s.listExports(a),
  'exports.dossier': (s, a) => s.createDossier(a),
  'exports.copyTo': (s, a) => s.copyExport(a),
  'audit.list': (s, a) => s.listAudit(a),
  'audit.verify': (s) => s.verifyAudit(),
};

const STORE_CODES: Record<StoreErrorCode, ErrorCode> = { store_too_new: 'store_too_new', not_found: 'not_found', conflict: 'conflict', corrupt: 'internal', invalid: 'invalid_argument' };

/** Any thrown value as the contract's error data. */
export function toErrorData(error: unknown): ApiErrorData {
  if (isStoreError(error)) return { code: STORE_CODES[error.code], message: error.message };
  const code = (error as NodeJS.ErrnoException | undefined)?.code;
  const file = (error as NodeJS.ErrnoException | undefined)?.path;
  if (!(error instanceof ApiError) && typeof code === 'string' && file) {
    // a system error on a file the user named: say which and what went wrong, not the errno alone
    const what: Record<string, [ErrorCode, string]> = {
      ENOENT: ['not_found', 'no such file or folder'],
      EISDIR: ['invalid_argument', 'is a folder, not a file'],
      EACCES: ['forbidden', 'permission denied'],
      ENOSPC: ['internal', 'the disk is full'],
    };
    const [mapped, words] = what[code] ?? ['internal', (error as Error).message];
    return { code: mapped, message: `${file}: ${words}`, where: { file } };
  }
  return errorData(error);
}

/** Checks the arguments of `method`; throws `invalid_argument` naming the first bad field. */
export function validateCall<M extends MethodName>(method: M, args: unknown): MethodArgs<M> {
  const spec = methods[method];
  const result = spec.input.safeParse(args ?? {});
  if (!result.success) {
    const issue = result.error.issues[0];
    const field = issue.path.join('.');
    throw new ApiError('invalid_argument', `${method}: ${field ? `${field}: ` : ''}${issue.message}`, field ? { hint: { text: issue.message, option: field } } : {});
  }
  return result.data as MethodArgs<M>;
}

export interface HostOptions {
  storeDir: string;
  launchWorker?: LaunchWorker;
  workerModule?: string;
  actor?: string;
  /** A store with no project gets the demo project (the app's first launch). */
  seedDemo?: boolean;
}

export type ClosableHost = ApiHost & { readonly service: Service; close(): Promise<void> };

export async function createApiHost(options: HostOptions): Promise<ClosableHost> {
  const store = Store.open(options.storeDir, options.actor ? { actor: options.actor } : {});
  const { version } = JSON.parse(fs.readFileSync(fromRoot('package.json'), 'utf8')) as { version: string };
  const service = new Service(store, {
    launchWorker: options.launchWorker ?? forkWorker,
    workerModule: options.workerModule ?? WORKER_MODULE,
    version,
    ...(options.actor ? { actor: options.actor } : {}),
  });
  if (options.seedDemo && store.listProjects().length === 0) await service.createDemoProject();
  return {
    service,
    methods: methodNames,
    async call(method: string, args: unknown, context: CallContext = {}): Promise<CallOutcome> {
      try {
        if (!Object.hasOwn(methods, method)) throw new ApiError('invalid_argument', `unknown method '${method}'`, { hint: { text: `one of ${methodNames.join(', ')}` } });
        const name = method as MethodName;
        const valid = validateCall(name, args);
        const spec = methods[name] as { reads?: readonly string[]; writes?: readonly string[] };
        // an optional path left out is no file argument
        const paths = valid as Record<string, string | undefined>;
        for (const key of spec.reads ?? []) if (paths[key] !== undefined) context.authorizePath?.(paths[key], 'read');
        for (const key of spec.writes ?? []) if (paths[key] !== undefined) context.authorizePath?.(paths[key], 'write');
        const result = await (handlers[name] as (s: Service, a: unknown) => unknown)(service, valid);
        return { ok: true, result: result === undefined ? null : result };
      } catch (error) {
        if (process.env.DG_DEBUG && error instanceof Error) process.stderr.write(`${error.stack}\n`);
        return { ok: false, error: toErrorData(error) };
      }
    },
    onEvent: (listener: (event: ApiEvent) => void) => service.onEvent(listener as (event: unknown) => void),
    async close() {
      await service.close();
      store.close();
    },
  };
}
