/** Projects as the screens read them, and the demo project for a first launch. */
import fs from 'node:fs';
import path from 'node:path';
import { demoDataset } from '../data/demo.ts';
import { writeDataset } from '../export/index.ts';
import type { Store } from '../store/index.ts';
import type { MethodArgs } from './contract.ts';
import { importDataset } from './datasets-service.ts';
import type { ServiceContext } from './service-context.ts';

/** The demo project's name (one per store). */
export const DEMO_PROJECT = 'Demo: broadband lines';

/** The project with everything recorded in it: datasets, runs and their synthetic sets, evaluations and exports. */
export function getProject(store: Store, args: MethodArgs<'projects.get'>) {
  const project = store.getProject(args.projectId);
  const runs = store.listRuns(project.id);
  return {
    ...project,
    datasets: store.listDatasets(project.id),
    runs,
    synthetic: runs.flatMap((r) => store.listSyntheticSets(r.id)),
    evaluations: runs.flatMap((r) => store.listEvaluations(r.id)),
    exports: runs.flatMap((r) => store.listExports(r.id)),
  };
}

/**
 * The demo project (simulated broadband lines, imported like a user's file), for a first launch with
 * no data of one's own; the existing one when it is there already.
 */
export async function createDemoProject(ctx: ServiceContext) {
  const { store } = ctx;
  const existing = store.listProjects().find((p) => p.name === DEMO_PROJECT);
  if (existing) return getProject(store, { projectId: existing.id });
  const project = store.createProject(
    {
      name: DEMO_PROJECT,
      description: 'Simulated hourly broadband measurements (download, upload, latency) of 400 lines, with ISP, technology and region: try every step here before bringing your own data.',
    },
    ctx.actor,
  );
  const file = store.resolve(project.id, 'source/demo-broadband-lines.csv');
  fs.mkdirSync(path.dirname(file), { recursive: true });
  await writeDataset(demoDataset({ seed: 1 }), file);
  await importDataset(ctx, { projectId: project.id, path: file, read: { idColumn: 'line_id', timeColumn: 'hour' }, name: 'Simulated broadband lines' });
  return getProject(store, { projectId: project.id });
}
