import { describe, expect, it } from 'vitest';
import { DroppedNames, type DroppedRow } from '../../activities/objects/schema-filter';
import { parseToc } from '../../activities/schema/existing-objects';

const row = (r: Partial<DroppedRow>): DroppedRow => ({ classid: '1259', objid: '1', objsubid: 0, description: null, column_name: null, schema: null, plain_name: null, tag: null, ...r });

describe('DroppedNames: entries without a catalog id follow their object', () => {
  const names = new DroppedNames([
    row({ schema: 'Sales', plain_name: 'Order Items', tag: 'TABLE "Order Items"' }),
    row({ schema: 'public', plain_name: 'orders_2024', tag: 'TABLE orders_2024' }),
    row({ schema: 'public', objsubid: 3, tag: 'COLUMN products.internal_note' }),
    row({ classid: '1255', schema: 'util', tag: 'FUNCTION f(integer, text)' }),
    row({ classid: '2615', schema: '-', tag: 'SCHEMA audit' }),
  ]);
  const toc = parseToc(
    [
      '1; 0 0 COMMENT Sales TABLE "Order Items" postgres',
      '2; 0 0 ACL Sales COLUMN "Order Items".qty postgres',
      '3; 0 0 COMMENT Sales TABLE "Order Items 2" postgres',
      '4; 0 0 TABLE ATTACH public orders_2024 postgres',
      '5; 0 0 TABLE ATTACH public orders_2025 postgres',
      '6; 0 0 COMMENT public COLUMN products.internal_note postgres',
      '7; 0 0 COMMENT public COLUMN products.name postgres',
      '8; 0 0 ACL util FUNCTION f(integer, text) postgres',
      '9; 0 0 ACL util FUNCTION f(integer) postgres',
      '10; 0 0 COMMENT - SCHEMA audit postgres',
      '11; 0 0 SEQUENCE OWNED BY public orders_2024 postgres',
    ].join('\n'),
  );

  it('drops exactly the comments, grants and attachments of dropped objects', () => {
    expect(toc.filter((e) => names.has(e)).map((e) => e.dumpId)).toEqual([1, 2, 4, 6, 8, 10, 11]);
  });
});
