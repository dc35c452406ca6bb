import Foundation
import Testing
import TrainyardCore

@testable import TrainyardStore

/// A store written by an earlier version opens with its data intact after the migrations.
@Suite struct StoreMigrationTests {
    @Test("a version-5 store's job counts (kept by triggers) go on matching the jobs once the ingest keeps them")
    func countsAfterTheTriggers() throws {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("store-test-\(UUID().uuidString).db")
        defer { for suffix in ["", "-wal", "-shm"] { try? FileManager.default.removeItem(atPath: url.path + suffix) } }
        let id = JobID.derived(team: "t", idempotencyKey: "old-store")
        do {
            let old = try SQLiteDatabase(path: url.path)
            try old.execute("CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY)")
            for migration in StoreMigrations.all where migration.version <= 5 {
                try old.write { connection in
                    try connection.execute(migration.sql)
                    try connection.query("INSERT INTO schema_migrations (version) VALUES (?)", [.integer(Int64(migration.version))])
                }
            }
            try old.write { connection in
                try connection.query(
                    """
                    INSERT INTO jobs (job_id, team, name, kind, requested_backend, submitted_at, attempt, state, state_source, updated_at)
                    VALUES (?, 't', 'old', 'batch', 'local', 1790000000, 0, 'QUEUED', 'aggregator', 1790000000)
                    """, [.text(id.rawValue)])
            }
        }

        let store = try JobStore(path: url.path)
        func counts() throws -> [String] { try store.jobCounts().map { "\($0.state.rawValue) \($0.team) \($0.backend) \($0.count)" } }
        #expect(try counts() == ["QUEUED t local 1"])
        let claimed = LifecycleEvent(
            jobID: id, attempt: 1, state: .claimed, source: .worker, occurredAt: Date(timeIntervalSince1970: 1_790_000_001), team: "t",
            backend: "simulated")
        try store.apply([IngestMessage(position: MessagePosition(topic: "events", partition: 0, offset: 0), record: .event(claimed))])
        #expect(try counts() == ["CLAIMED t simulated 1"])
    }
}
