/**
 * WAL positions and protocol timestamps. The replication protocol carries LSNs as 64-bit
 * integers and prints them as `X/Y` (two hex halves); its timestamps count microseconds from
 * 2000-01-01 UTC, while everything else in pgferry uses the Unix epoch. Kept as bigint: both
 * exceed Number's 53 bits of exact integers.
 */

const MAX_UINT64 = (1n << 64n) - 1n;
const LOW_32 = 0xffffffffn;

/** Microseconds from 1970-01-01 to 2000-01-01 UTC (946684800 s). */
export const PG_EPOCH_MICROS = 946_684_800_000_000n;

/** `'16/B374D848'` → 0x16B374D848n. Throws on anything PostgreSQL would not print. */
export function parseLsn(text: string): bigint {
  const slash = text.indexOf('/');
  const hi = text.slice(0, slash);
  const lo = text.slice(slash + 1);
  if (slash < 0 || !isHex32(hi) || !isHex32(lo)) throw new Error(`invalid LSN ${JSON.stringify(text)}: expected X/Y with 1-8 hex digits each`);
  return (BigInt('0x' + hi) << 32n) | BigInt('0x' + lo);
}

/** 0x16B374D848n → `'16/B374D848'`: upper-case hex, no leading zeros in either half, like pg_lsn. */
export function formatLsn(lsn: bigint): string {
  if (lsn < 0n || lsn > MAX_UINT64) throw new RangeError(`LSN out of range: ${lsn}`);
  return `${(lsn >> 32n).toString(16).toUpperCase()}/${(lsn & LOW_32).toString(16).toUpperCase()}`;
}

/** Exact integers below 2^53: a high 32-bit half under 2^21. */
const SAFE_HIGH = 0x200000;
const TWO_32 = 0x1_0000_0000;

/**
 * The unsigned 64-bit big-endian integer at buf[at]. Buffer.readBigUInt64BE makes four BigInts
 * per read (two halves, a shift, a sum); below 2^53 (every LSN a server reaches in practice)
 * this makes one. The change stream reads a few per source transaction.
 */
export function readUInt64BE(buf: Buffer, at: number): bigint {
  const high = buf.readUInt32BE(at);
  return high < SAFE_HIGH ? BigInt(high * TWO_32 + buf.readUInt32BE(at + 4)) : buf.readBigUInt64BE(at);
}

/** The signed 64-bit big-endian integer at buf[at] (protocol times), as readUInt64BE. */
export function readInt64BE(buf: Buffer, at: number): bigint {
  const high = buf.readInt32BE(at);
  return high >= -SAFE_HIGH && high < SAFE_HIGH ? BigInt(high * TWO_32 + buf.readUInt32BE(at + 4)) : buf.readBigInt64BE(at);
}

/** Protocol time (µs since 2000-01-01 UTC) → µs since the Unix epoch. */
export function pgTimeToUnixMicros(pgMicros: bigint): bigint {
  return pgMicros + PG_EPOCH_MICROS;
}

/** µs since the Unix epoch → protocol time (µs since 2000-01-01 UTC). */
export function unixMicrosToPgTime(unixMicros: bigint): bigint {
  return unixMicros - PG_EPOCH_MICROS;
}

function isHex32(s: string): boolean {
  if (s.length < 1 || s.length > 8) return false;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    const digit = c >= 0x30 && c <= 0x39;
    const upper = c >= 0x41 && c <= 0x46;
    const lower = c >= 0x61 && c <= 0x66;
    if (!digit && !upper && !lower) return false;
  }
  return true;
}
