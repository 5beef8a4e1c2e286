import { describe, expect, it } from 'vitest';
import { validateSpec } from '../../common/spec';
import { databaseSpec } from '../../common/databases';
import { buildWorkers, idleCopyLanes, indexBuildSettings, sizeInKb } from '../../common/index-build';

describe('validateSpec', () => {
  it('accepts the smallest spec and fills in the defaults', () => {
    const result = validateSpec({ source: 'postgres://alice@db1:5433/shop', target: 'postgresql://bob@db2/shop_copy' });
    expect(result.ok).toBe(true);
    if (!result.ok) return;
    expect(result.spec.source).toEqual({ host: 'db1', port: 5433, database: 'shop', user: 'alice' });
    expect(result.spec.target).toEqual({ host: 'db2', port: 5432, database: 'shop_copy', user: 'bob' });
    expect(result.spec.parallelism.tables).toBe(4);
    expect(result.spec.conflicts).toBe('error');
    expect(result.spec.retry).toEqual({ connectionMinutes: 720, otherMinutes: 10 });
    expect(result.spec.types).toEqual(['schema', 'full']);
    expect(result.spec.validation).toBe('count');
  });

  it('reads TLS settings from URL parameters and from libpq-style fields', () => {
    const result = validateSpec({
      source: 'postgres://alice@db1/shop?sslmode=verify-full&sslrootcert=/etc/ca.pem',
      target: { host: 'db2', database: 'shop', user: 'bob', sslmode: 'require', sslcert: '/c.pem', sslkey: '/k.pem', passwordEnv: 'TARGET_PW' },
    });
    expect(result.ok).toBe(true);
    if (!result.ok) return;
    expect(result.spec.source.sslmode).toBe('verify-full');
    expect(result.spec.source.sslrootcert).toBe('/etc/ca.pem');
    expect(result.spec.target).toMatchObject({ sslmode: 'require', sslcert: '/c.pem', sslkey: '/k.pem', passwordEnv: 'TARGET_PW', port: 5432 });
  });

  it('refuses a password in a URL, naming the field and where passwords go instead', () => {
    const result = validateSpec({ source: 'postgres://alice:hunter2@db1/shop', target: 'postgres://bob@db2/shop' });
    expect(result.ok).toBe(false);
    if (result.ok) return;
    expect(result.problems).toHaveLength(1);
    expect(result.problems[0]).toMatch(/^source: .*PGPASSWORD/);
    expect(result.problems[0]).not.toContain('hunter2');
  });

  it('refuses a password field', () => {
    const result = validateSpec({ source: { host: 'db1', database: 'shop', password: 'x' }, target: 'postgres://bob@db2/shop' });
    expect(result.ok).toBe(false);
    if (result.ok) return;
    expect(result.problems[0]).toMatch(/^source: unknown field password \(passwords never go in the spec/);
  });

  it('reports one line per problem, each naming its field', () => {
    const result = validateSpec({
      source: 'mysql://x@y/z',
      parallelism: { tables: 0 },
      conflicts: 'overwrite',
      retry: { otherMinutes: -1 },
      surprise: true,
    });
    expect(result.ok).toBe(false);
    if (result.ok) return;
    const fields = result.problems.map((p) => p.split(':')[0]);
    expect(fields).toEqual(expect.arrayContaining(['source', 'target', 'parallelism.tables', 'conflicts', 'retry.otherMinutes', '(spec)']));
    expect(result.problems).toHaveLength(6);
  });
});

describe('validateSpec: defaults', () => {
  // What the smallest spec parsed to when every section wrote its defaults twice (inside and as
  // an outer `.default({...})`), pasted from that code's output: the sections' defaults now come
  // from their fields alone (`.prefault({})`) and must still give exactly this.
  const smallest = { source: 'postgres://alice@db1:5433/shop', target: 'postgres://bob@db2/shop_copy' };
  const everything = { exclude: [], rename: {}, tables: {}, largeObjects: true };
  const defaults = {
    source: { host: 'db1', port: 5433, database: 'shop', user: 'alice' },
    target: { host: 'db2', port: 5432, database: 'shop_copy', user: 'bob' },
    types: ['schema', 'full'],
    parallelism: { tables: 4, databases: 2 },
    conflicts: 'error',
    validation: 'count',
    retry: { connectionMinutes: 720, otherMinutes: 10 },
    incremental: { operations: ['insert', 'update', 'delete', 'truncate'], tables: {}, historyBudget: 8000 },
    objects: everything,
    precheck: { ignore: [] },
    throttle: { full: {}, incremental: {} },
    indexBuild: { memory: '1GB', workers: 'idle' },
    copy: { splitLargerThan: '16GB' },
  };

  it('gives the smallest spec the same defaults as before, in the same order', () => {
    const result = validateSpec(smallest);
    expect(result.ok && result.spec).toStrictEqual(defaults);
    expect(result.ok && JSON.stringify(result.spec)).toBe(JSON.stringify(defaults));
  });

  it('gives empty sections the defaults of absent ones', () => {
    const empty = { parallelism: {}, retry: {}, incremental: {}, objects: {}, precheck: {}, throttle: {}, indexBuild: {}, copy: {} };
    const result = validateSpec({ ...smallest, ...empty });
    expect(result.ok && result.spec).toStrictEqual(defaults);
  });

  it('leaves a database entry without objects to the spec\'s objects section', () => {
    const result = validateSpec({ ...smallest, objects: { include: ['public'] }, databases: ['sales', { source: 'hr', target: 'hr_2024', objects: { exclude: ['audit'] } }] });
    expect(result.ok).toBe(true);
    if (!result.ok) return;
    expect(result.spec.databases![0]).toStrictEqual({ source: 'sales' });
    expect(result.spec.databases![1].objects?.exclude).toHaveLength(1);
    const [sales, hr] = result.spec.databases!.map((d) => databaseSpec(result.spec, d));
    expect(sales.objects.include).toHaveLength(1);
    expect(sales.objects).toStrictEqual(result.spec.objects);
    expect(hr.objects.include).toBeUndefined();
    expect(hr.objects.exclude).toHaveLength(1);
  });
});

describe('precheck.ignore', () => {
  it('defaults to nothing acknowledged and takes item ids', () => {
    const bare = validateSpec({ source: 'postgres://a@h/db', target: 'postgres://a@h2/db' });
    expect(bare.ok && bare.spec.precheck).toEqual({ ignore: [] });
    const acked = validateSpec({ source: 'postgres://a@h/db', target: 'postgres://a@h2/db', precheck: { ignore: ['tables-without-key', 'no-such-item'] } });
    expect(acked.ok && acked.spec.precheck.ignore).toEqual(['tables-without-key', 'no-such-item']);
  });
  it('refuses what cannot be an item id', () => {
    const result = validateSpec({ source: 'postgres://a@h/db', target: 'postgres://a@h2/db', precheck: { ignore: 'tables-without-key' } });
    expect(result.ok).toBe(false);
    if (!result.ok) expect(result.problems[0]).toMatch(/^precheck\.ignore: /);
  });
});

describe('validateSpec: startAt and throttle', () => {
  const base = { source: 'postgres://a@db1/shop', target: 'postgres://b@db2/shop' };

  it('accepts an ISO 8601 start time with an offset and limits per phase', () => {
    const result = validateSpec({ ...base, startAt: '2030-03-01T02:00:00+01:00', throttle: { full: { mbPerSecond: 5 }, incremental: { rowsPerSecond: 1000 } } });
    expect(result.ok).toBe(true);
    if (!result.ok) return;
    expect(result.spec.startAt).toBe('2030-03-01T02:00:00+01:00');
    expect(result.spec.throttle).toEqual({ full: { mbPerSecond: 5 }, incremental: { rowsPerSecond: 1000 } });
  });

  it('has no limits by default', () => {
    const result = validateSpec(base);
    expect(result.ok && result.spec.throttle).toEqual({ full: {}, incremental: {} });
    expect(result.ok && result.spec.startAt).toBeUndefined();
  });

  it('refuses a start time without an offset, saying what to write', () => {
    const result = validateSpec({ ...base, startAt: '2030-03-01T02:00:00' });
    expect(result.ok).toBe(false);
    if (result.ok) return;
    expect(result.problems).toEqual(['startAt: must be an ISO 8601 date-time with a UTC offset, e.g. 2026-03-01T02:00:00+01:00 or 2026-03-01T01:00:00Z']);
  });

  it('refuses limits that are not positive, and unknown limit fields', () => {
    const result = validateSpec({ ...base, throttle: { full: { mbPerSecond: 0, queriesPerSecond: 3 } } });
    expect(result.ok).toBe(false);
    if (result.ok) return;
    expect(result.problems).toEqual(expect.arrayContaining([expect.stringMatching(/^throttle\.full\.mbPerSecond: /), expect.stringMatching(/^throttle\.full: unknown field queriesPerSecond/)]));
  });
});

describe('validateSpec: indexBuild', () => {
  const base = { source: 'postgres://a@h/db', target: 'postgres://b@h/db' };

  it('defaults to 1GB and the idle lanes as parallel workers (none as a session starts)', () => {
    const result = validateSpec(base);
    if (!result.ok) throw new Error(result.problems.join('\n'));
    expect(result.spec.indexBuild).toEqual({ memory: '1GB', workers: 'idle' });
    expect(buildWorkers(result.spec.indexBuild, 0)).toBe(0);
    expect(buildWorkers(result.spec.indexBuild, 2)).toBe(2);
    expect(indexBuildSettings(result.spec.indexBuild)).toEqual({ maintenance_work_mem: '1GB', max_parallel_maintenance_workers: '0' });
    // a history from before the field existed gets the same
    expect(indexBuildSettings(undefined)).toEqual({ maintenance_work_mem: '1GB', max_parallel_maintenance_workers: '0' });
  });

  it('takes PostgreSQL sizes and a worker count', () => {
    const result = validateSpec({ ...base, indexBuild: { memory: '512 MB', workers: 2 } });
    if (!result.ok) throw new Error(result.problems.join('\n'));
    expect(indexBuildSettings(result.spec.indexBuild)).toEqual({ maintenance_work_mem: '512MB', max_parallel_maintenance_workers: '2' });
    expect(buildWorkers(result.spec.indexBuild, 5)).toBe(2); // a number is kept, idle lanes or not
    expect(sizeInKb('64kB')).toBe(64);
    expect(sizeInKb('2GB')).toBe(2 * 1024 * 1024);
  });

  it('refuses what PostgreSQL would refuse, naming the field', () => {
    const result = validateSpec({ ...base, indexBuild: { memory: '1 gigabyte', workers: -1 } });
    expect(result.ok).toBe(false);
    if (result.ok) return;
    expect(result.problems).toContain('indexBuild.memory: a size with a unit (kB, MB, GB or TB), such as 256MB or 1GB');
    expect(result.problems.some((p) => p.startsWith('indexBuild.workers:'))).toBe(true);
    const tooSmall = validateSpec({ ...base, indexBuild: { memory: '512kB' } });
    expect(tooSmall.ok ? [] : tooSmall.problems).toEqual(['indexBuild.memory: must be between 1MB and 2147483647kB (PostgreSQL maintenance_work_mem)']);
  });
});

describe('idleCopyLanes', () => {
  it('lends no lane while units wait to start, then the lanes not running a unit', () => {
    expect(idleCopyLanes(3, 2, 2)).toBe(0);
    expect(idleCopyLanes(1, 1, 4)).toBe(0);
    expect(idleCopyLanes(0, 1, 3)).toBe(2);
    expect(idleCopyLanes(0, 3, 3)).toBe(0);
  });
});
