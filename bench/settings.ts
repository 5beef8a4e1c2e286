/** The server settings of benchmarks.md, for every benchmark: durable (fsync on), production-like memory. */
export const BENCH_SETTINGS = {
  fsync: 'on',
  synchronous_commit: 'on',
  full_page_writes: 'on',
  shared_buffers: '1GB',
  maintenance_work_mem: '256MB',
  max_wal_size: '8GB',
};
