/**
 * What the service's domain modules share: the store, who the audit log names and the service's event
 * stream. The Service (service.ts) builds one and hands it to each module's functions.
 */
import type { RunRecord, Store } from '../store/index.ts';
import type { ApiEventOf } from './contract.ts';

export interface ServiceContext {
  readonly store: Store;
  /** Who the audit log names (the service's `actor` option, default 'app'). */
  readonly actor: { actor: string };
  readonly emit: (event: ApiEventOf) => void;
  /** The app's version, as written into exported models. */
  readonly version: string | undefined;
}

/** The run's folder on disk. */
export function runDir(store: Store, run: RunRecord): string {
  return store.resolve(run.projectId, run.runDir);
}
