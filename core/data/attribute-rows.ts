/**
 * A table of attribute values, one row per series to generate (conditional generation): the attribute
 * columns of a trained model, by name, from CSV, Parquet or Arrow.
 */
import type { StoreMode } from './columns.ts';
import { readArrowTable, readParquetTable } from './read-columnar.ts';
import { readCsvTable } from './read-csv.ts';
import { formatOf, type ColumnTable, type StorePlan } from './table.ts';
import { DataError, type ColumnSchema, type Value } from './types.ts';

function readTable(file: string, plan: StorePlan): Promise<ColumnTable> {
  const format = formatOf(file);
  if (format === 'csv') return readCsvTable(file, plan);
  return format === 'parquet' ? readParquetTable(file, plan) : readArrowTable(file, plan);
}

export async function readAttributeRows(file: string, attributes: ColumnSchema[]): Promise<Value[][]> {
  const wanted = new Map(attributes.map((a) => [a.name, a]));
  const table = await readTable(file, (names) => names.map((n): StoreMode => (wanted.get(n)?.kind === 'continuous' ? 'number' : wanted.has(n) ? 'label' : 'count')));
  const index = attributes.map((a) => {
    const i = table.names.indexOf(a.name);
    if (i < 0) {
      throw new DataError(
        `${file}: no column '${a.name}'; given attributes need one column per attribute of the model (${attributes.map((x) => x.name).join(', ')}); the file has ${table.names.join(', ')}`,
        file,
        undefined,
        a.name,
      );
    }
    return i;
  });
  if (table.rows === 0) throw new DataError(`${file}: no rows; give one row of attribute values per series to generate`, file);
  const rows: Value[][] = [];
  for (let r = 0; r < table.rows; r++) {
    rows.push(
      attributes.map((a, k) => {
        const store = table.stores[index[k]];
        const fail = (what: string) => new DataError(`${file}, ${table.where(r)}, column '${a.name}': ${what}`, file, table.rowNumber(r), a.name);
        if (store.isMissing(r)) throw fail('missing value; every given attribute needs a value');
        if (a.kind === 'continuous') {
          const x = store.numberAt(r);
          if (Number.isNaN(x)) throw fail(`'${store.labelAt(r)}' is not a number`);
          return x;
        }
        const label = store.labelAt(r);
        if (!a.categories!.includes(label)) throw fail(`'${label}' is not a category the model knows (${a.categories!.slice(0, 12).join(', ')}${a.categories!.length > 12 ? ', ...' : ''})`);
        return label;
      }),
    );
  }
  return rows;
}
