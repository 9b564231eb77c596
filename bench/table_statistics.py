"""Statistics after seeding, as autovacuum would leave them (the machines run with it off).

`ANALYZE_LOADED` analyzes every table of the public schema that holds a row and leaves the empty
ones alone. A plain `ANALYZE` would also record the tables seeding never touched (idempotency
records, orders, review items …) as empty, which PostgreSQL then believes: it stops assuming a
never-analyzed table has at least 10 pages, plans a lookup on such a table as a sequential scan,
and a statement prepared in the run's first seconds keeps that plan for its connection's life
while the table grows by thousands of rows. Autovacuum never analyzes a table before 50 rows
have changed in it, so in production an empty table keeps the 10-page assumption.
"""

ANALYZE_LOADED = """
DO $$
DECLARE
    loaded regclass;
    has_rows boolean;
BEGIN
    FOR loaded IN SELECT oid::regclass FROM pg_class
                  WHERE relkind = 'r' AND relnamespace = 'public'::regnamespace LOOP
        EXECUTE format('SELECT EXISTS (SELECT 1 FROM %s)', loaded) INTO has_rows;
        IF has_rows THEN
            EXECUTE format('ANALYZE %s', loaded);
        END IF;
    END LOOP;
END
$$
"""
