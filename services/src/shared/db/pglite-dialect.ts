import { parse, protocol, type PGlite } from '@electric-sql/pglite';
import {
  CompiledQuery,
  PostgresAdapter,
  PostgresIntrospector,
  PostgresQueryCompiler,
  type DatabaseConnection,
  type Dialect,
  type Driver,
  type Kysely,
  type QueryResult,
} from 'kysely';

/**
 * Kysely dialect for embedded PGlite.
 *
 * PGlite is a single connection. kysely-pglite's driver hands that one connection to every
 * caller, so two concurrent transactions would interleave their statements inside one
 * BEGIN/COMMIT. This driver serialises acquisition: a transaction (or a single query) owns the
 * connection until it is released, which is exactly the isolation a one-connection pool gives.
 */
export class LockedPGliteDialect implements Dialect {
  constructor(private readonly client: PGlite) {}
  createAdapter() { return new PostgresAdapter(); }
  createDriver(): Driver { return new LockedPGliteDriver(this.client); }
  createQueryCompiler() { return new PostgresQueryCompiler(); }
  // Kysely's Dialect interface: the introspector works on any schema.
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  createIntrospector(db: Kysely<any>) { return new PostgresIntrospector(db); }
}

class LockedPGliteDriver implements Driver {
  private tail: Promise<void> = Promise.resolve();
  private readonly connection: PGliteConnection;

  constructor(private readonly client: PGlite) {
    this.connection = new PGliteConnection(client);
  }

  async init() { await this.client.waitReady; }

  async acquireConnection(): Promise<DatabaseConnection> {
    let release!: () => void;
    const previous = this.tail;
    this.tail = new Promise<void>((resolve) => { release = resolve; });
    await previous;
    this.connection.release = release;
    return this.connection;
  }

  // There is one connection: releasing it lets the next query in the queue run.
  async releaseConnection(_connection: DatabaseConnection) {
    this.connection.release?.();
  }

  async beginTransaction(c: DatabaseConnection) { await c.executeQuery(CompiledQuery.raw('BEGIN')); }
  async commitTransaction(c: DatabaseConnection) { await c.executeQuery(CompiledQuery.raw('COMMIT')); }
  async rollbackTransaction(c: DatabaseConnection) { await c.executeQuery(CompiledQuery.raw('ROLLBACK')); }
  async destroy() { await this.client.close(); }
}

/** The most prepared statements kept in the session; the least recently used one is closed beyond it. */
const MAX_PREPARED_STATEMENTS = 256;
/** Data manipulation, whose text repeats (kysely builds it): prepared once, then bound and executed. */
const PREPARABLE = /^[\s(]*(select|insert|update|delete|with)\b/i;
/** Schema changes (migrations), which may change what a prepared statement returns. */
const SCHEMA_CHANGE = /^\s*(create|alter|drop|truncate|do|comment|import)\b/i;
/** SQLSTATE 0A000 with this message: a prepared `SELECT *` whose table changed shape since it was prepared. */
const STALE_PLAN = 'cached plan must not change result type';

interface PreparedStatement { name: string; paramTypes: number[] }

/**
 * The one PGlite session. PGlite's `query()` sends each message of the extended protocol
 * (parse, describe, bind, describe, execute, sync) in its own call into the WebAssembly
 * module, and parses and plans the text every time. Here a statement kysely built is
 * prepared once under a name (its parameter types learned then), and each execution is one
 * call: bind, describe, execute and sync batched in one message. Parameters are serialised by
 * the types Postgres inferred, as `query()` does, and rows parsed by the client's parsers.
 */
class PGliteConnection implements DatabaseConnection {
  release?: () => void;
  /** By SQL text, least recently used first (a Map keeps insertion order). */
  private readonly statements = new Map<string, PreparedStatement>();
  /** Statements to close at the start of the next message. */
  private closing: string[] = [];
  private nextName = 0;

  constructor(private readonly client: PGlite) {}

  async executeQuery<R>(query: CompiledQuery): Promise<QueryResult<R>> {
    const { sql, parameters } = query;
    if (!PREPARABLE.test(sql)) {
      const result = parameters.length === 0 ? await this.run(sql) : await this.client.query<R>(sql, [...parameters]);
      // DDL can change what a prepared statement's tables return: prepare everything afresh.
      if (SCHEMA_CHANGE.test(sql)) this.forgetAll();
      return { rows: result.rows as R[], numAffectedRows: BigInt(result.affectedRows ?? 0) };
    }
    let result;
    try {
      result = await this.execute(sql, parameters);
    } catch (err) {
      if (!isStalePlan(err)) throw err;
      this.forget(sql);
      // Inside a transaction the error has aborted it: the caller sees it, as with any failed statement.
      if (this.client.isInTransaction()) throw err;
      result = await this.execute(sql, parameters);
    }
    return { rows: result.rows as R[], numAffectedRows: BigInt(result.affectedRows ?? 0) };
  }

  // eslint-disable-next-line require-yield
  async *streamQuery<R>(): AsyncIterableIterator<QueryResult<R>> {
    throw new Error('PGlite does not support streaming queries');
  }

  /** A parameterless statement, unnamed, in one call. */
  private async run(sql: string) {
    return this.send([protocol.serialize.parse({ text: sql }), protocol.serialize.bind({}), ...EXECUTE_PORTAL]);
  }

  private async execute(sql: string, parameters: readonly unknown[]) {
    let statement = this.statements.get(sql);
    if (statement) {
      // Most recently used: to the end of the map, last in line to be closed.
      this.statements.delete(sql);
      this.statements.set(sql, statement);
    } else {
      statement = await this.prepare(sql);
    }
    const serializers: Partial<Record<number, (x: unknown) => string>> = this.client.serializers;
    const values = parameters.map((value, i) => {
      if (value === null || value === undefined) return null;
      const serialize = serializers[statement.paramTypes[i] ?? 0];
      // What `query()` does with a type it has no serialiser for.
      return serialize ? serialize(value) : (value as { toString(): string }).toString();
    });
    return this.send([protocol.serialize.bind({ statement: statement.name, values }), ...EXECUTE_PORTAL]);
  }

  /** Parses `sql` into a named statement and learns its parameter types (one call, once per text). */
  private async prepare(sql: string): Promise<PreparedStatement> {
    const name = `k${String(this.nextName++)}`;
    let messages;
    try {
      messages = await this.exchange([protocol.serialize.parse({ name, text: sql }), protocol.serialize.describe({ type: 'S', name }), protocol.serialize.sync()]);
    } catch (err) {
      // Nothing was prepared under the name, or a close of it is harmless.
      this.closing.push(name);
      throw err;
    }
    const statement = { name, paramTypes: parse.parseDescribeStatementResults(messages) };
    this.statements.set(sql, statement);
    if (this.statements.size > MAX_PREPARED_STATEMENTS) {
      const oldest = this.statements.keys().next().value;
      if (oldest !== undefined) this.forget(oldest);
    }
    return statement;
  }

  private async send(parts: Uint8Array[]) {
    const results = parse.parseResults(await this.exchange(parts), this.client.parsers);
    return results[results.length - 1] ?? { rows: [], affectedRows: 0 };
  }

  /** One message into the module; the first error of the batch is thrown (the batch ends with Sync, so the session is ready again). */
  private async exchange(parts: Uint8Array[]) {
    if (this.closing.length > 0) {
      parts = [...this.closing.map((name) => protocol.serialize.close({ type: 'S', name })), ...parts];
      this.closing = [];
    }
    let length = 0;
    for (const part of parts) length += part.length;
    const message = new Uint8Array(length);
    let offset = 0;
    for (const part of parts) {
      message.set(part, offset);
      offset += part.length;
    }
    return (await this.client.execProtocol(message)).messages;
  }

  private forget(sql: string) {
    const statement = this.statements.get(sql);
    if (!statement) return;
    this.statements.delete(sql);
    this.closing.push(statement.name);
  }

  private forgetAll() {
    for (const sql of [...this.statements.keys()]) this.forget(sql);
  }
}

/** After a bind: the portal's row description, its rows, then Sync. */
const EXECUTE_PORTAL = [protocol.serialize.describe({ type: 'P' }), protocol.serialize.execute({}), protocol.serialize.sync()];

function isStalePlan(err: unknown): boolean {
  return err instanceof Error && 'code' in err && err.code === '0A000' && err.message.includes(STALE_PLAN);
}
