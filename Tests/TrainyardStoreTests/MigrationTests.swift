import Foundation
import Testing
import TrainyardCore

@testable import TrainyardStore

/// Stores left by an older release open at the newest schema with their rows intact.
@Suite("StoreMigrations")
struct MigrationTests {
    func temporaryPath() -> String {
        FileManager.default.temporaryDirectory.appendingPathComponent("migration-test-\(UUID().uuidString).db").path
    }

    func remove(_ path: String) {
        for suffix in ["", "-wal", "-shm"] { try? FileManager.default.removeItem(atPath: path + suffix) }
    }

    func rows(_ sql: String, at path: String) throws -> [[SQLiteValue]] {
        try SQLiteDatabase(path: path).read { connection in try connection.query(sql).map(\.values) }
    }

    @Test("migration 6: job_events becomes WITHOUT ROWID with every row; the outbox is untouched")
    func keyedEvents() throws {
        let path = temporaryPath()
        defer { remove(path) }
        do {
            let old = try SQLiteDatabase(path: path)
            try StoreMigrations.apply(to: old, through: 5)
            try old.write { connection in
                for offset in 0..<50 {
                    try connection.query(
                        "INSERT INTO job_events (topic, partition, offset, job_id, attempt, state, source, occurred_at, payload_json) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                        [
                            .text("trainyard.events"), .integer(Int64(offset % 3)), .integer(Int64(offset)), .text("job-\(offset % 7)"),
                            .integer(1), .text("RUNNING"), .text("worker"), .real(Double(offset) / 4), .text("{\"n\":\(offset)}"),
                        ])
                }
                for index in 0..<10 {
                    try connection.query(
                        "INSERT INTO status_outbox (job_id, payload_json) VALUES (?, ?)",
                        [.text(JobID.derived(team: "t", idempotencyKey: "m\(index)").rawValue), .text("{}")])
                }
                // The publisher has sent and deleted the first four.
                try connection.query("DELETE FROM status_outbox WHERE sequence <= 4")
            }
        }
        let events = "SELECT * FROM job_events ORDER BY topic, partition, offset"
        let outbox = "SELECT * FROM status_outbox ORDER BY sequence"
        let (eventsBefore, outboxBefore) = (try rows(events, at: path), try rows(outbox, at: path))
        #expect(eventsBefore.count == 50)
        #expect(outboxBefore.map { $0[0] } == (5...10).map { .integer(Int64($0)) })

        let store = try JobStore(path: path)
        #expect(try rows(events, at: path) == eventsBefore)
        #expect(try rows(outbox, at: path) == outboxBefore)
        #expect(try store.pendingStatus(limit: 100).map(\.sequence) == Array(5...10))
        let schema = try rows("SELECT name, sql FROM sqlite_master WHERE tbl_name IN ('job_events', 'status_outbox') ORDER BY name", at: path)
        let sql = Dictionary(uniqueKeysWithValues: schema.compactMap { row in row[0].string.map { ($0, row[1].string ?? "") } })
        #expect(sql["job_events"]?.contains("WITHOUT ROWID") == true)
        #expect(sql["job_events_by_job"]?.contains("(job_id, occurred_at)") == true)
        #expect(sql["status_outbox"]?.contains("AUTOINCREMENT") == true)

        // A row added after the migration comes after every row the publisher may have read.
        let newer = JobID.derived(team: "t", idempotencyKey: "newer")
        _ = try SQLiteDatabase(path: path).write { connection in
            try connection.query("INSERT INTO status_outbox (job_id, payload_json) VALUES (?, '{}')", [.text(newer.rawValue)])
        }
        try store.deleteStatus(through: 10)
        #expect(try store.pendingStatus(limit: 100).map(\.jobID) == [newer])
        #expect(try store.pendingStatus(limit: 100).map(\.sequence) == [11])
    }
}
