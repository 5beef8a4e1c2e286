/** A protocol byte (message tag, tuple or column kind) as error messages show it: `'w' (0x77)`, or the hex alone when unprintable. */
export function describeByte(b: number): string {
  const hex = '0x' + b.toString(16).padStart(2, '0');
  return b >= 0x20 && b < 0x7f ? `'${String.fromCharCode(b)}' (${hex})` : hex;
}
