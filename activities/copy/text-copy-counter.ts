/**
 * Counts rows in a text-format COPY stream: every row ends with a newline and newlines inside
 * values are escaped as \n, so rows = newline bytes.
 */
export class TextCopyCounter {
  rows = 0;
  bytes = 0;

  push(chunk: Buffer): void {
    this.bytes += chunk.length;
    let at = chunk.indexOf(10);
    while (at !== -1) {
      this.rows += 1;
      at = chunk.indexOf(10, at + 1);
    }
  }
}
