"""The private PostgreSQL test server: starts as an unprivileged user, survives SIGKILL."""

import psycopg

from tests.support.postgres import PASSWORD, Postgres


def test_private_server_stop_kill_restart() -> None:
    pg = Postgres().start()
    try:
        assert pg.port != 5432
        name = pg.create_database()
        url = pg.url(name)
        with psycopg.connect(url, password=PASSWORD, autocommit=True) as conn:
            conn.execute("CREATE TABLE t (id BIGINT PRIMARY KEY)")
            conn.execute("INSERT INTO t VALUES (1) ON CONFLICT (id) DO NOTHING")
        pg.kill()
        assert pg.postmaster_pid() is not None  # a stale pid file, as after a crash
        pg.restart()
        pg.stop("immediate")
        pg.restart()
        with psycopg.connect(url, password=PASSWORD) as conn:
            assert conn.execute("SELECT count(*) FROM t").fetchone() == (1,)
        pg.drop_database(name)
    finally:
        pg.destroy()
