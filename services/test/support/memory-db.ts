import {
  DummyDriver, Kysely, PostgresAdapter, PostgresIntrospector, PostgresQueryCompiler,
  type DatabaseConnection, type OperationNode, type QueryResult,
} from 'kysely';
import type { Db } from '../../src/shared/db/database.js';

type Row = Record<string, unknown>;

/**
 * A Kysely database over plain in-memory tables, for unit tests of code that runs a few simple
 * queries: SELECT / UPDATE … RETURNING / DELETE on one table, a WHERE of ANDed `=`, `is`,
 * `is not` and `>` comparisons, and LIMIT. Anything else throws, and so does a column the table
 * does not have, so a query the code gets wrong fails the test instead of matching nothing.
 * It starts in microseconds (PGlite takes seconds), which mutation testing needs.
 */
export function memoryDb(tables: Record<string, Row[]>): Db {
  const connection: DatabaseConnection = {
    executeQuery: <R>({ query }: { query: OperationNode }) => Promise.resolve(run(tables, query) as QueryResult<R>),
    streamQuery: () => { throw new Error('memoryDb: streaming is not supported'); },
  };
  class MemoryDriver extends DummyDriver {
    override acquireConnection() { return Promise.resolve(connection); }
  }
  return new Kysely({
    dialect: {
      createAdapter: () => new PostgresAdapter(),
      createDriver: () => new MemoryDriver(),
      createIntrospector: (db) => new PostgresIntrospector(db),
      createQueryCompiler: () => new PostgresQueryCompiler(),
    },
  });
}

// Kysely's operation nodes, read structurally: only the shapes memoryDb supports.
type Node = { kind: string } & Record<string, unknown>;
const node = (value: unknown): Node => value as Node;
const name = (identifierHolder: unknown): string => {
  const n = node(identifierHolder);
  if (n.kind === 'TableNode') return name(node(n.table).identifier);
  if (n.kind === 'ReferenceNode') return name(n.column);
  if (n.kind === 'ColumnNode') return name(n.column);
  if (n.kind === 'IdentifierNode') return n.name as string;
  throw new Error(`memoryDb: unsupported node ${n.kind}`);
};
const valueOf = (value: unknown): unknown => {
  const n = node(value);
  if (n.kind !== 'ValueNode') throw new Error(`memoryDb: unsupported operand ${n.kind}`);
  return n.value;
};
const comparable = (value: unknown) => (value instanceof Date ? value.getTime() : value);

function column(row: Row, col: string): unknown {
  if (!(col in row)) throw new Error(`memoryDb: no column ${col}`);
  return row[col];
}

function matches(row: Row, where: unknown): boolean {
  const n = node(where);
  if (n.kind === 'WhereNode') return matches(row, n.where);
  if (n.kind === 'AndNode') return matches(row, n.left) && matches(row, n.right);
  if (n.kind !== 'BinaryOperationNode') throw new Error(`memoryDb: unsupported condition ${n.kind}`);
  const left = comparable(column(row, name(n.leftOperand)));
  const right = comparable(valueOf(n.rightOperand));
  const operator = node(n.operator).operator as string;
  switch (operator) {
    case '=': return left === right;
    case 'is': return left === right;
    case 'is not': return left !== right;
    case '>': return left !== null && right !== null && (left as number) > (right as number);
    default: throw new Error(`memoryDb: unsupported operator ${operator}`);
  }
}

function tableOf(tables: Record<string, Row[]>, tableNode: unknown): Row[] {
  const table = tables[name(tableNode)];
  if (!table) throw new Error(`memoryDb: no table ${name(tableNode)}`);
  return table;
}

function project(row: Row, selections: unknown): Row {
  const list = (selections ?? []) as Array<{ selection: unknown }>;
  if (list.some((s) => node(s.selection).kind === 'SelectAllNode')) return { ...row };
  return Object.fromEntries(list.map((s) => { const col = name(s.selection); return [col, column(row, col)]; }));
}

function run(tables: Record<string, Row[]>, query: OperationNode): QueryResult<Row> {
  const q = node(query);
  if (q.kind === 'SelectQueryNode') {
    const from = node(q.from).froms as unknown[];
    let rows = tableOf(tables, from[0]).filter((row) => !q.where || matches(row, q.where));
    if (q.limit) rows = rows.slice(0, valueOf(node(q.limit).limit) as number);
    return { rows: rows.map((row) => project(row, q.selections)) };
  }
  if (q.kind === 'UpdateQueryNode') {
    const rows = tableOf(tables, q.table).filter((row) => !q.where || matches(row, q.where));
    for (const row of rows) {
      for (const update of q.updates as Array<{ column: unknown; value: unknown }>) {
        const col = name(update.column);
        column(row, col);
        row[col] = valueOf(update.value);
      }
    }
    const returning = q.returning ? node(q.returning).selections : undefined;
    return { rows: returning ? rows.map((row) => project(row, returning)) : [], numAffectedRows: BigInt(rows.length) };
  }
  if (q.kind === 'DeleteQueryNode') {
    const table = tableOf(tables, (node(q.from).froms as unknown[])[0]);
    const doomed = table.filter((row) => !q.where || matches(row, q.where));
    for (const row of doomed) table.splice(table.indexOf(row), 1);
    return { rows: [], numAffectedRows: BigInt(doomed.length) };
  }
  throw new Error(`memoryDb: unsupported query ${q.kind}`);
}
