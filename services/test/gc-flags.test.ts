import { describe, expect, it } from 'vitest';
import { applyGcFlags, GC_FLAGS } from '../src/shared/gc-flags.js';

describe('garbage-collector flags', () => {
  it('applies every flag the command line leaves unset', () => {
    const set: string[] = [];
    expect(applyGcFlags([], (flag) => set.push(flag))).toEqual([...GC_FLAGS]);
    expect(set).toEqual(['--no-parallel-scavenge', '--no-concurrent-array-buffer-sweeping']);
  });

  it('leaves a flag given on the command line, in either spelling, to it', () => {
    const set: string[] = [];
    applyGcFlags(['--enable-source-maps', '--parallel-scavenge', '--no_concurrent_array_buffer_sweeping'], (flag) => set.push(flag));
    expect(set).toEqual([]);
    applyGcFlags(['--no-parallel-scavenge'], (flag) => set.push(flag));
    expect(set).toEqual(['--no-concurrent-array-buffer-sweeping']);
  });
});
