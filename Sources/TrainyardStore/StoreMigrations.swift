/// The store's schema, as numbered migrations applied in order, each once.
enum StoreMigrations {
    static let all: [(version: Int, sql: String)] = [
        (
            1,
            """
            CREATE TABLE jobs (
                job_id TEXT PRIMARY KEY,
                team TEXT NOT NULL,
                name TEXT,
                kind TEXT,
                requested_backend TEXT,
                spec_json TEXT,
                submitted_at REAL,
                attempt INTEGER NOT NULL,
                state TEXT NOT NULL,
                state_source TEXT NOT NULL,
                backend TEXT,
                resource_name TEXT,
                exit_code INTEGER,
                failure_class TEXT,
                reason TEXT,
                claimed_at REAL,
                started_at REAL,
                finished_at REAL,
                updated_at REAL NOT NULL
            );
            CREATE INDEX jobs_by_state ON jobs(state, job_id);
            CREATE INDEX jobs_by_team ON jobs(team, job_id);
            CREATE TABLE cancel_requests (
                job_id TEXT PRIMARY KEY,
                requested_at REAL NOT NULL,
                reason TEXT NOT NULL
            );
            CREATE TABLE attempts (
                job_id TEXT NOT NULL,
                attempt INTEGER NOT NULL,
                state TEXT NOT NULL,
                decisive_json TEXT NOT NULL,
                first_seen_json TEXT NOT NULL,
                last_seen REAL NOT NULL,
                resource_name TEXT,
                PRIMARY KEY (job_id, attempt)
            );
            CREATE TABLE job_events (
                topic TEXT NOT NULL,
                partition INTEGER NOT NULL,
                offset INTEGER NOT NULL,
                job_id TEXT NOT NULL,
                attempt INTEGER NOT NULL,
                state TEXT NOT NULL,
                source TEXT NOT NULL,
                occurred_at REAL NOT NULL,
                payload_json TEXT NOT NULL,
                PRIMARY KEY (topic, partition, offset)
            );
            CREATE INDEX job_events_by_job ON job_events(job_id, occurred_at);
            CREATE TABLE rejected_messages (
                topic TEXT NOT NULL,
                partition INTEGER NOT NULL,
                offset INTEGER NOT NULL,
                job_id TEXT,
                reason TEXT NOT NULL,
                PRIMARY KEY (topic, partition, offset)
            );
            CREATE TABLE consumed_offsets (
                topic TEXT NOT NULL,
                partition INTEGER NOT NULL,
                next_offset INTEGER NOT NULL,
                PRIMARY KEY (topic, partition)
            );
            """
        ),
        (
            2,
            // The transactional outbox of the status topic: `JobStore.apply` adds a job's new
            // status in the transaction that changed it; the publisher deletes rows once sent.
            // AUTOINCREMENT: sequences are never reused, so "delete through N" never hits a newer row.
            """
            CREATE TABLE status_outbox (
                sequence INTEGER PRIMARY KEY AUTOINCREMENT,
                job_id TEXT NOT NULL,
                payload_json TEXT NOT NULL
            );
            """
        ),
        (
            3,
            // Alerts: what fires now (so a restart does not page again) and the notifications not
            // yet delivered (the alerts topic's outbox). `last_observed_at`: the latest worker
            // observation of the job (any attempt, heartbeats included), for the unobserved rule.
            """
            ALTER TABLE jobs ADD COLUMN last_observed_at REAL;
            CREATE INDEX jobs_by_finished ON jobs(finished_at);
            CREATE TABLE alerts_firing (
                alert_id TEXT PRIMARY KEY,
                payload_json TEXT NOT NULL
            );
            CREATE TABLE alert_outbox (
                sequence INTEGER PRIMARY KEY AUTOINCREMENT,
                alert_id TEXT NOT NULL,
                payload_json TEXT NOT NULL
            );
            """
        ),
        (
            4,
            // Job counts by (state, team, backend), kept by triggers in the transaction that
            // changes a job, so `/metrics` and the dashboard read a few rows instead of counting
            // every job at each scrape. A combination no job has any more has no row, so the table is
            // exactly the GROUP BY of `jobs` (a replayed store compares equal).
            """
            CREATE TABLE job_counts (
                state TEXT NOT NULL,
                team TEXT NOT NULL,
                backend TEXT NOT NULL,
                count INTEGER NOT NULL,
                PRIMARY KEY (state, team, backend)
            ) WITHOUT ROWID;
            INSERT INTO job_counts (state, team, backend, count)
                SELECT state, team, coalesce(backend, requested_backend, 'none'), count(*) FROM jobs GROUP BY 1, 2, 3;
            CREATE TRIGGER job_counts_after_insert AFTER INSERT ON jobs BEGIN
                INSERT INTO job_counts (state, team, backend, count)
                    VALUES (NEW.state, NEW.team, coalesce(NEW.backend, NEW.requested_backend, 'none'), 1)
                    ON CONFLICT (state, team, backend) DO UPDATE SET count = count + 1;
            END;
            CREATE TRIGGER job_counts_after_update AFTER UPDATE OF state, team, backend, requested_backend ON jobs
            WHEN NEW.state IS NOT OLD.state OR NEW.team IS NOT OLD.team
                OR coalesce(NEW.backend, NEW.requested_backend, 'none') IS NOT coalesce(OLD.backend, OLD.requested_backend, 'none')
            BEGIN
                UPDATE job_counts SET count = count - 1
                    WHERE state = OLD.state AND team = OLD.team AND backend = coalesce(OLD.backend, OLD.requested_backend, 'none');
                DELETE FROM job_counts
                    WHERE count = 0 AND state = OLD.state AND team = OLD.team AND backend = coalesce(OLD.backend, OLD.requested_backend, 'none');
                INSERT INTO job_counts (state, team, backend, count)
                    VALUES (NEW.state, NEW.team, coalesce(NEW.backend, NEW.requested_backend, 'none'), 1)
                    ON CONFLICT (state, team, backend) DO UPDATE SET count = count + 1;
            END;
            CREATE TRIGGER job_counts_after_delete AFTER DELETE ON jobs BEGIN
                UPDATE job_counts SET count = count - 1
                    WHERE state = OLD.state AND team = OLD.team AND backend = coalesce(OLD.backend, OLD.requested_backend, 'none');
                DELETE FROM job_counts
                    WHERE count = 0 AND state = OLD.state AND team = OLD.team AND backend = coalesce(OLD.backend, OLD.requested_backend, 'none');
            END;
            """
        ),
        (
            5,
            // Spend: the cost each attempt's terminal event reported (docs/spend.md), in whole
            // millionths of a USD so that sums are exact in any order. A job's cost is the sum of
            // its rows; spend reports select by `ended_at`.
            """
            CREATE TABLE attempt_costs (
                job_id TEXT NOT NULL,
                attempt INTEGER NOT NULL,
                cost_micros INTEGER NOT NULL,
                billed_millis INTEGER NOT NULL,
                is_estimate INTEGER NOT NULL,
                backend TEXT NOT NULL,
                ended_at REAL NOT NULL,
                PRIMARY KEY (job_id, attempt)
            ) WITHOUT ROWID;
            CREATE INDEX attempt_costs_by_end ON attempt_costs(ended_at);
            """
        ),
        (
            6,
            // `job_counts` is kept by the ingest instead: it knows each job's row before and after
            // a batch and changes each count once per batch, where these triggers ran three
            // statements per job write (~5 of ~16 µs per `jobs` UPDATE). Only the ingest writes `jobs`.
            """
            DROP TRIGGER job_counts_after_insert;
            DROP TRIGGER job_counts_after_update;
            """
        ),
    ]

    /// True when `database` holds a store's tables.
    static func isStore(_ database: SQLiteDatabase) throws -> Bool {
        try database.read { connection in
            try !connection.query("SELECT name FROM sqlite_master WHERE type = 'table' AND name = 'jobs'").isEmpty
        }
    }

    /// Brings `database` to the newest schema. An empty database becomes a store; a database
    /// with tables but no `schema_migrations` belongs to something else and is left untouched.
    static func apply(to database: SQLiteDatabase) throws {
        let tables = try database.read { connection in
            try connection.query("SELECT name FROM sqlite_master WHERE type = 'table'").compactMap { $0["name"].string }
        }
        guard tables.isEmpty || tables.contains("schema_migrations") else {
            throw SQLiteError(
                code: 26, message: "an SQLite database, but not a Trainyard store (tables \(tables.sorted().prefix(5).joined(separator: ", ")))")
        }
        try database.execute("CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY)")
        for migration in all {
            try database.write { connection in
                let applied = try connection.query("SELECT 1 FROM schema_migrations WHERE version = ?", [.integer(Int64(migration.version))])
                guard applied.isEmpty else { return }
                try connection.execute(migration.sql)
                try connection.query("INSERT INTO schema_migrations (version) VALUES (?)", [.integer(Int64(migration.version))])
            }
        }
    }
}
