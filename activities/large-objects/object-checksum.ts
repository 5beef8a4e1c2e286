/**
 * A large object's checksum, computed the same way on both servers without ever holding the
 * object whole (lo_get of more than 1 GB fails, and an object may be 4 TB): the server hashes
 * each 1 MiB piece (md5), and the pieces' hashes are chained in order,
 *
 *   chain₀ = ''   chainᵢ₊₁ = md5(chainᵢ ‖ md5(pieceᵢ))   checksum = '<size>:<chain>'
 *
 * A chain can be continued from where an interrupted copy committed it.
 */
import { createHash } from 'node:crypto';
import type { Client } from 'pg';
import { PIECE_BYTES } from './large-object-sql';

export function chainPiece(chain: string, pieceMd5: string): string {
  return createHash('md5').update(chain + pieceMd5).digest('hex');
}

export function objectChecksum(size: number, chain: string): string {
  return `${size}:${chain}`;
}

/** Pieces hashed per query: bounded server work and a short answer. */
const PIECES_PER_QUERY = 256;

/** An object's checksum as `client`'s server holds it (`size` as that server reports it). */
export async function serverObjectChecksum(client: Client, oid: number, size: number): Promise<string> {
  let chain = '';
  for (let from = 0; from < size; from += PIECES_PER_QUERY * PIECE_BYTES) {
    const to = Math.min(size, from + PIECES_PER_QUERY * PIECE_BYTES) - 1;
    const { rows } = await client.query<{ md5: string }>(
      `SELECT pg_catalog.md5(pg_catalog.lo_get($1::int8::oid, off, $4::int4)) AS md5
         FROM pg_catalog.generate_series($2::int8, $3::int8, $4::int8) AS off ORDER BY off`,
      [oid, from, to, PIECE_BYTES],
    );
    for (const r of rows) chain = chainPiece(chain, r.md5);
  }
  return objectChecksum(size, chain);
}
