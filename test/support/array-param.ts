/**
 * Reads back an apply statement's array parameter (binary array format, column-array.ts) as
 * the text of its values, so tests can say which rows a statement carries; a parameter that is
 * not an array (a single value) is returned as it is.
 */
export function paramValues(param: unknown): unknown {
  if (!Buffer.isBuffer(param)) return param;
  if (param.readInt32BE(0) === 0) return [];
  const oid = param.readUInt32BE(8);
  const count = param.readInt32BE(12);
  const values: Array<string | null> = [];
  let at = 20;
  for (let i = 0; i < count; i += 1) {
    const length = param.readInt32BE(at);
    at += 4;
    if (length === -1) {
      values.push(null);
      continue;
    }
    values.push(elementText(oid, param, at, length));
    at += length;
  }
  return values;
}

function elementText(oid: number, buf: Buffer, at: number, length: number): string {
  switch (oid) {
    case 21:
      return String(buf.readInt16BE(at));
    case 23:
      return String(buf.readInt32BE(at));
    case 20:
      return String(buf.readBigInt64BE(at));
    case 25:
      return buf.toString('utf8', at, at + length);
    default:
      throw new Error(`array element type ${oid} is not one the apply statements bind`);
  }
}

/** The parameters of a planned statement, arrays read back as their values' text. */
export function sentValues(statement: { values: unknown[] }): unknown[] {
  return statement.values.map(paramValues);
}
