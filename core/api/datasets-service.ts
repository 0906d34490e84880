/**
 * Datasets and their mappings: reading a file into a project (its Parquet copy and schema version 1),
 * loading and previewing a dataset, and saving new mapping versions.
 */
import fs from 'node:fs';
import path from 'node:path';
import { readDataset, type ReadOptions } from '../data/index.ts';
import type { Dataset, Schema } from '../data/types.ts';
import { writeDataset } from '../export/index.ts';
import { sha256File, type Store } from '../store/index.ts';
import { ApiError } from '../util/errors.ts';
import type { MethodArgs } from './contract.ts';
import type { ServiceContext } from './service-context.ts';

/** The schema for reading a dataset's Parquet copy: long layout, the same columns and settings. */
function copySchema(schema: Schema, idColumn: string, timeColumn: string): Schema {
  const data = schema.columns.filter((c) => c.role === 'attribute' || c.role === 'feature').map(({ wideColumns: _wide, ...c }) => c);
  return {
    ...schema,
    layout: { kind: 'long', idColumn, timeColumn },
    columns: [{ name: idColumn, kind: 'id', role: 'id' }, { name: timeColumn, kind: 'time', role: 'time' }, ...data],
  };
}

/**
 * Reads a file into a project: the series as read are kept as a Parquet copy in the project folder
 * (long layout, with its SHA-256), the mapping used as schema version 1.
 */
export async function importDataset(ctx: ServiceContext, args: MethodArgs<'datasets.import'>) {
  const project = ctx.store.getProject(args.projectId);
  const read = await readDataset(args.path, (args.read ?? {}) as ReadOptions, (done, total, unit) => ctx.emit({ type: 'job.progress', job: `import:${args.path}`, kind: 'import', done, total, unit }));
  const { dataset, report } = read;
  const layout = dataset.schema.layout;
  const idColumn = (layout.kind !== 'long-chunked' ? layout.idColumn : undefined) ?? 'series_id';
  const timeColumn = (layout.kind !== 'wide' ? layout.timeColumn : undefined) ?? 'step';
  const { record } = await addDatasetCopy(ctx, project.id, dataset, { idColumn, timeColumn }, dataset.schema, {
    name: args.name ?? path.basename(args.path),
    sourceFile: path.resolve(args.path),
    origin: args.read?.schema ? 'edited' : 'inferred',
  });
  return { dataset: record, report, schema: dataset.schema };
}

/**
 * Keeps a dataset in the project: its Parquet copy (long layout, with these id and time columns) and
 * SHA-256, and its mapping as schema version 1, recorded in one transaction.
 */
export async function addDatasetCopy(
  ctx: ServiceContext,
  projectId: string,
  dataset: Dataset,
  columns: { idColumn: string; timeColumn: string },
  schema: Schema,
  entry: { name: string; sourceFile: string; origin: 'inferred' | 'edited' },
) {
  const { store } = ctx;
  const id = crypto.randomUUID();
  const copyFile = `datasets/${id}.parquet`;
  const file = store.resolve(projectId, copyFile);
  fs.mkdirSync(path.dirname(file), { recursive: true });
  const written = await writeDataset(dataset, file, { layout: 'long', ...columns });
  const sha256 = await sha256File(file);
  return store.transaction(() => {
    const record = store.addDataset(
      projectId,
      { id, name: entry.name, sourceFile: entry.sourceFile, copyFile, sha256, bytes: fs.statSync(file).size, rows: written.rows, series: dataset.series.length },
      ctx.actor,
    );
    const schemaVersion = store.saveSchema(id, copySchema(schema, columns.idColumn, columns.timeColumn), entry.origin, ctx.actor);
    return { record, schemaVersion };
  });
}

export function getDataset(store: Store, args: MethodArgs<'datasets.get'>) {
  const dataset = store.getDataset(args.datasetId);
  return { ...dataset, schemas: store.listSchemas(dataset.id) };
}

/** The dataset as the latest mapping reads it. */
export async function loadDataset(store: Store, datasetId: string, version?: number): Promise<{ dataset: Dataset; file: string; schema: Schema; schemaVersion: number }> {
  const record = store.getDataset(datasetId);
  const { schema, version: schemaVersion } = store.getSchema(datasetId, version);
  const file = store.resolve(record.projectId, record.copyFile);
  const { dataset } = await readDataset(file, { schema: schema as Schema });
  return { dataset, file, schema: schema as Schema, schemaVersion };
}

export async function previewDataset(store: Store, args: MethodArgs<'datasets.preview'>) {
  const { dataset } = await loadDataset(store, args.datasetId);
  const series = dataset.series.slice(0, args.series ?? 5).map((s) => ({
    id: s.id,
    attributes: s.attributes,
    length: s.length,
    features: s.features.map((f) => Array.from(f as ArrayLike<number | string>)),
    ...(s.times ? { times: Array.from(s.times) } : {}),
  }));
  const rows: (number | string)[][] = [];
  for (const s of dataset.series) {
    for (let t = 0; t < s.length && rows.length < (args.rows ?? 20); t++) rows.push([s.id, s.times?.[t] ?? t, ...s.attributes, ...s.features.map((f) => f[t])]);
    if (rows.length >= (args.rows ?? 20)) break;
  }
  const columns = ['series', 'time', ...dataset.attributes.map((c) => c.name), ...dataset.features.map((c) => c.name)];
  return { columns, rows, series, totalSeries: dataset.series.length, attributes: dataset.attributes, features: dataset.features };
}

/** A new mapping version, checked by reading the dataset with it. */
export async function saveSchema(ctx: ServiceContext, args: MethodArgs<'schemas.save'>) {
  const { store } = ctx;
  const record = store.getDataset(args.datasetId);
  const current = store.getSchema(args.datasetId).schema as Schema;
  if (args.schema.layout.kind !== 'long' || current.layout.kind !== 'long' || args.schema.layout.idColumn !== current.layout.idColumn) {
    throw new ApiError('invalid_argument', `the mapping of an imported dataset keeps its copy's layout (long, id column '${current.layout.kind === 'long' ? current.layout.idColumn : ''}')`, {
      where: { column: 'layout' },
      hint: { text: 're-import the file to change how rows become series', action: 'datasets.import' },
    });
  }
  await readDataset(store.resolve(record.projectId, record.copyFile), { schema: args.schema });
  const version = store.saveSchema(args.datasetId, args.schema, 'edited', ctx.actor);
  return store.getSchema(args.datasetId, version);
}
