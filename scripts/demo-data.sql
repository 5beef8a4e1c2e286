-- The quickstart's demo source: a small online shop. About 150 MB at scale 1 (psql -v scale=N).
-- Several schemas, ~20 tables, an orders table partitioned by month, foreign keys, views, a
-- materialized view, functions and triggers. Deterministic (no random()).
\if :{?scale}
\else
  \set scale 1
\endif
SET client_min_messages = warning;

CREATE SCHEMA shop;
CREATE SCHEMA billing;
CREATE SCHEMA ops;
CREATE SCHEMA analytics;

CREATE TYPE shop.order_status AS ENUM ('cart', 'placed', 'paid', 'shipped', 'delivered', 'returned');
CREATE DOMAIN shop.email AS text CHECK (VALUE ~ '^[^@]+@[^@]+$');
CREATE DOMAIN billing.money_amount AS numeric(14,2) CHECK (VALUE >= 0);

CREATE TABLE shop.countries (code char(2) PRIMARY KEY, name text NOT NULL);
CREATE TABLE shop.categories (id serial PRIMARY KEY, parent_id int REFERENCES shop.categories, name text NOT NULL);
CREATE TABLE shop.brands (id serial PRIMARY KEY, name text NOT NULL UNIQUE);
CREATE TABLE shop.customers (
  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  email shop.email NOT NULL UNIQUE,
  full_name text NOT NULL,
  country char(2) REFERENCES shop.countries,
  marketing_opt_in boolean NOT NULL DEFAULT false,
  profile jsonb,
  created_at timestamptz NOT NULL,
  updated_at timestamptz
);
CREATE TABLE shop.addresses (
  id bigserial PRIMARY KEY,
  customer_id bigint NOT NULL REFERENCES shop.customers,
  line1 text NOT NULL, city text NOT NULL, postcode text, country char(2) REFERENCES shop.countries
);
CREATE TABLE shop.products (
  id serial PRIMARY KEY,
  sku text NOT NULL UNIQUE,
  name text NOT NULL,
  category_id int REFERENCES shop.categories,
  brand_id int REFERENCES shop.brands,
  price billing.money_amount NOT NULL,
  attributes jsonb,
  tags text[],
  description text
);
CREATE TABLE shop.product_images (id serial PRIMARY KEY, product_id int NOT NULL REFERENCES shop.products, thumbnail bytea);
CREATE TABLE shop.warehouses (id serial PRIMARY KEY, name text NOT NULL, country char(2) REFERENCES shop.countries);
CREATE TABLE shop.inventory (
  warehouse_id int REFERENCES shop.warehouses,
  product_id int REFERENCES shop.products,
  on_hand int NOT NULL CHECK (on_hand >= 0),
  PRIMARY KEY (warehouse_id, product_id)
);
CREATE TABLE shop.orders (
  id bigint NOT NULL,
  placed_at timestamptz NOT NULL,
  customer_id bigint NOT NULL REFERENCES shop.customers,
  status shop.order_status NOT NULL,
  total billing.money_amount NOT NULL DEFAULT 0,
  PRIMARY KEY (id, placed_at)
) PARTITION BY RANGE (placed_at);
CREATE TABLE shop.order_items (
  order_id bigint NOT NULL,
  placed_at timestamptz NOT NULL,
  line smallint NOT NULL,
  product_id int NOT NULL REFERENCES shop.products,
  quantity int NOT NULL CHECK (quantity > 0),
  unit_price billing.money_amount NOT NULL,
  PRIMARY KEY (order_id, placed_at, line),
  FOREIGN KEY (order_id, placed_at) REFERENCES shop.orders
);
CREATE TABLE shop.reviews (id bigserial PRIMARY KEY, product_id int REFERENCES shop.products, customer_id bigint REFERENCES shop.customers, stars smallint CHECK (stars BETWEEN 1 AND 5), body text);
CREATE TABLE billing.invoices (id bigserial PRIMARY KEY, order_id bigint NOT NULL, placed_at timestamptz NOT NULL, issued_on date NOT NULL, amount billing.money_amount NOT NULL, FOREIGN KEY (order_id, placed_at) REFERENCES shop.orders);
CREATE TABLE billing.payments (id bigserial PRIMARY KEY, invoice_id bigint NOT NULL REFERENCES billing.invoices, paid_at timestamptz NOT NULL, method text NOT NULL, amount billing.money_amount NOT NULL, provider_ref uuid);
CREATE TABLE billing.refunds (id serial PRIMARY KEY, payment_id bigint REFERENCES billing.payments, amount billing.money_amount NOT NULL, reason text);
CREATE TABLE ops.shipments (id bigserial PRIMARY KEY, order_id bigint NOT NULL, placed_at timestamptz NOT NULL, warehouse_id int REFERENCES shop.warehouses, shipped_at timestamptz, tracking text, FOREIGN KEY (order_id, placed_at) REFERENCES shop.orders);
-- An append-only log with no key, as many real databases have.
CREATE TABLE ops.audit_log (at timestamptz NOT NULL, actor text, action text, details jsonb);
CREATE TABLE ops.settings (key text PRIMARY KEY, value jsonb);

DO $$
BEGIN
  FOR m IN 0..23 LOOP
    EXECUTE format('CREATE TABLE shop.orders_%s PARTITION OF shop.orders FOR VALUES FROM (%L) TO (%L)',
                   to_char(DATE '2024-01-01' + make_interval(months => m), 'YYYY_MM'),
                   DATE '2024-01-01' + make_interval(months => m), DATE '2024-01-01' + make_interval(months => m + 1));
  END LOOP;
END $$;
CREATE TABLE shop.orders_other PARTITION OF shop.orders DEFAULT;

INSERT INTO shop.countries VALUES ('FR', 'France'), ('DE', 'Germany'), ('JP', 'Japan'), ('BR', 'Brazil'), ('US', 'United States'), ('IN', 'India');
INSERT INTO shop.categories (parent_id, name) SELECT NULL, 'Department ' || g FROM generate_series(1, 10) g;
INSERT INTO shop.categories (parent_id, name) SELECT 1 + g % 10, 'Category ' || g FROM generate_series(1, 90) g;
INSERT INTO shop.brands (name) SELECT 'Brand ' || g FROM generate_series(1, 200) g;
INSERT INTO shop.warehouses (name, country) SELECT 'Warehouse ' || g, (ARRAY['FR','DE','JP','BR','US','IN'])[1 + g % 6] FROM generate_series(1, 12) g;

INSERT INTO shop.customers (email, full_name, country, marketing_opt_in, profile, created_at)
SELECT 'customer' || g || '@example.com', 'Customer ' || g, (ARRAY['FR','DE','JP','BR','US','IN'])[1 + g % 6], g % 3 = 0,
       CASE WHEN g % 4 <> 0 THEN jsonb_build_object('newsletter', g % 2 = 0, 'size', (ARRAY['S','M','L'])[1 + g % 3]) END,
       TIMESTAMPTZ '2023-01-01' + g * interval '3 minutes'
  FROM generate_series(1, (100000 * :scale)::int) g;
INSERT INTO shop.addresses (customer_id, line1, city, postcode, country)
SELECT c.id, c.id || ' Main Street', 'City ' || c.id % 500, lpad((c.id % 99999)::text, 5, '0'), c.country FROM shop.customers c;

INSERT INTO shop.products (sku, name, category_id, brand_id, price, attributes, tags, description)
SELECT 'SKU-' || lpad(g::text, 6, '0'), 'Product ' || g, 11 + g % 90, 1 + g % 200, round((5 + g % 500 * 1.37)::numeric, 2),
       jsonb_build_object('color', (ARRAY['red','blue','green','black'])[1 + g % 4], 'weight_g', 100 + g % 900),
       ARRAY['tag' || g % 10, 'tag' || g % 7], repeat('A fine product. ', 1 + g % 20)
  FROM generate_series(1, (20000 * :scale)::int + 10) g;
INSERT INTO shop.product_images (product_id, thumbnail) SELECT id, decode(repeat(md5(id::text), 16), 'hex') FROM shop.products;
INSERT INTO shop.inventory SELECT w.id, p.id, (w.id * p.id) % 100 FROM shop.warehouses w, shop.products p WHERE (w.id + p.id) % 3 = 0;

INSERT INTO shop.orders (id, placed_at, customer_id, status)
SELECT g, TIMESTAMPTZ '2024-01-01' + (g % 730) * interval '1 day' + (g % 86400) * interval '1 second',
       1 + g % (100000 * :scale)::int, (ARRAY['placed','paid','shipped','delivered','returned'])[1 + g % 5]::shop.order_status
  FROM generate_series(1, (300000 * :scale)::int) g;
INSERT INTO shop.order_items (order_id, placed_at, line, product_id, quantity, unit_price)
SELECT o.id, o.placed_at, l, 1 + (o.id * l) % ((20000 * :scale)::int + 10), 1 + (o.id + l) % 4, round((5 + (o.id * l) % 500 * 1.37)::numeric, 2)
  FROM shop.orders o, generate_series(1, 3) l;
UPDATE shop.orders o SET total = s.total FROM (SELECT order_id, placed_at, sum(quantity * unit_price) AS total FROM shop.order_items GROUP BY 1, 2) s
 WHERE s.order_id = o.id AND s.placed_at = o.placed_at;
INSERT INTO shop.reviews (product_id, customer_id, stars, body)
SELECT 1 + g % ((20000 * :scale)::int + 10), 1 + g % (100000 * :scale)::int, 1 + g % 5, repeat('Great! ', 1 + g % 30) FROM generate_series(1, (50000 * :scale)::int) g;

INSERT INTO billing.invoices (order_id, placed_at, issued_on, amount) SELECT id, placed_at, placed_at::date, total FROM shop.orders WHERE status <> 'placed';
INSERT INTO billing.payments (invoice_id, paid_at, method, amount, provider_ref)
SELECT id, issued_on + interval '1 hour', (ARRAY['card','transfer','wallet'])[1 + id % 3], amount, md5('pay' || id)::uuid FROM billing.invoices;
INSERT INTO billing.refunds (payment_id, amount, reason) SELECT id, amount, 'returned' FROM billing.payments WHERE id % 50 = 0;
INSERT INTO ops.shipments (order_id, placed_at, warehouse_id, shipped_at, tracking)
SELECT id, placed_at, 1 + id % 12, placed_at + interval '2 days', 'TRK' || id FROM shop.orders WHERE status IN ('shipped', 'delivered', 'returned');
INSERT INTO ops.audit_log (at, actor, action, details)
SELECT TIMESTAMPTZ '2024-01-01' + g * interval '30 seconds', 'user' || g % 100, (ARRAY['login','view','buy','logout'])[1 + g % 4],
       jsonb_build_object('ip', '10.0.' || g % 256 || '.' || g % 200, 'session', md5(g::text))
  FROM generate_series(1, (400000 * :scale)::int) g;
INSERT INTO ops.settings VALUES ('currency', '"EUR"'), ('free_shipping_over', '50'), ('features', '{"reviews": true}');

-- Indexes, views, functions, triggers.
CREATE INDEX ON shop.orders (customer_id);
CREATE INDEX ON shop.order_items (product_id);
CREATE INDEX ON shop.products USING gin (tags);
CREATE INDEX ON shop.customers (lower(full_name));
CREATE INDEX ON ops.audit_log (at);
CREATE INDEX ON billing.payments (paid_at) WHERE method = 'card';

CREATE FUNCTION shop.touch_updated_at() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN NEW.updated_at := now(); RETURN NEW; END $$;
CREATE TRIGGER customers_touch BEFORE UPDATE ON shop.customers FOR EACH ROW EXECUTE FUNCTION shop.touch_updated_at();

CREATE FUNCTION ops.audit() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN INSERT INTO ops.audit_log (at, actor, action, details) VALUES (now(), current_user, TG_OP, to_jsonb(NEW)); RETURN NEW; END $$;
CREATE TRIGGER products_audit AFTER INSERT OR UPDATE ON shop.products FOR EACH ROW EXECUTE FUNCTION ops.audit();

CREATE FUNCTION billing.balance(p_invoice bigint) RETURNS numeric LANGUAGE sql STABLE AS $$
  SELECT i.amount - coalesce((SELECT sum(p.amount) FROM billing.payments p WHERE p.invoice_id = i.id), 0) FROM billing.invoices i WHERE i.id = p_invoice
$$;

CREATE VIEW shop.order_totals AS SELECT o.id, o.placed_at, c.full_name, o.status, o.total FROM shop.orders o JOIN shop.customers c ON c.id = o.customer_id;
CREATE VIEW billing.unpaid_invoices AS SELECT i.* FROM billing.invoices i WHERE billing.balance(i.id) > 0;
CREATE VIEW shop.low_stock AS SELECT p.sku, w.name AS warehouse, i.on_hand FROM shop.inventory i JOIN shop.products p ON p.id = i.product_id JOIN shop.warehouses w ON w.id = i.warehouse_id WHERE i.on_hand < 5;
CREATE MATERIALIZED VIEW analytics.monthly_revenue AS
  SELECT date_trunc('month', placed_at) AS month, count(*) AS orders, sum(total) AS revenue FROM shop.orders GROUP BY 1;
ANALYZE;
