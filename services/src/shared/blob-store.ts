import { createReadStream, createWriteStream } from 'node:fs';
import { mkdir, rename, rm, stat } from 'node:fs/promises';
import { dirname, join, resolve, sep } from 'node:path';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { Transform } from 'node:stream';

export class BlobTooLargeError extends Error {
  constructor(readonly limit: number) { super(`blob exceeds ${limit} bytes`); }
}

/** Where file bytes live. The embedded default is local disk; S3-compatible stores plug in here. */
export interface BlobStore {
  /** Streams `body` to `key`, failing (and keeping nothing) past `maxBytes`. Returns the size. */
  put(key: string, body: Readable, maxBytes: number): Promise<number>;
  get(key: string): Promise<{ stream: Readable; size: number } | null>;
  delete(key: string): Promise<void>;
}

export class LocalDiskBlobStore implements BlobStore {
  private readonly root: string;
  constructor(root: string) { this.root = resolve(root); }

  private path(key: string): string {
    const full = resolve(join(this.root, key));
    // Keys are server-generated, but never let one escape the root.
    if (!full.startsWith(this.root + sep)) throw new Error('invalid blob key');
    return full;
  }

  async put(key: string, body: Readable, maxBytes: number): Promise<number> {
    const target = this.path(key);
    await mkdir(dirname(target), { recursive: true });
    const partial = `${target}.partial`;
    let size = 0;
    const limiter = new Transform({
      transform(chunk: Buffer, _enc, done) {
        size += chunk.length;
        if (size > maxBytes) done(new BlobTooLargeError(maxBytes)); else done(null, chunk);
      },
    });
    try {
      await pipeline(body, limiter, createWriteStream(partial));
      await rename(partial, target);
      return size;
    } catch (err) {
      await rm(partial, { force: true });
      throw err;
    }
  }

  async get(key: string) {
    const path = this.path(key);
    try {
      const info = await stat(path);
      return { stream: createReadStream(path), size: info.size };
    } catch {
      return null;
    }
  }

  async delete(key: string) { await rm(this.path(key), { force: true }); }
}
