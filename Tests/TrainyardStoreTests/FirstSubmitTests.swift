import Foundation
import Testing
import TrainyardCore
import TrainyardStore

/// Two submits of one job id (one idempotency key, two specs; issue #13, item 9): the worker runs
/// the first one on the partition, so the store must keep that one.
@Suite struct FirstSubmitTests {
    @Test("a second submit with another spec leaves the first spec, name and time in the store")
    func keepsFirstSpec() throws {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("store-test-\(UUID().uuidString).db")
        defer { for suffix in ["", "-wal", "-shm"] { try? FileManager.default.removeItem(atPath: url.path + suffix) } }
        let store = try JobStore(path: url.path)
        let id = JobID.derived(team: "t", idempotencyKey: "one-key")
        let first = JobSpec(name: "first", team: "t", command: ["echo", "first"])
        let second = JobSpec(name: "second", team: "t", command: ["echo", "second"])
        let start = Date(timeIntervalSince1970: 1_790_000_000)
        func submit(_ spec: JobSpec, at offset: Int64) -> IngestMessage {
            IngestMessage(
                position: MessagePosition(topic: "requests", partition: 0, offset: offset),
                record: .submitted(SubmitCommand(jobID: id, spec: spec, submittedAt: start.addingTimeInterval(Double(offset)))))
        }
        try store.apply([submit(first, at: 0)])
        try store.apply([submit(second, at: 1)])
        let record = try #require(try store.job(id))
        #expect(record.name == "first" && record.submittedAt == start)
        #expect(try store.spec(of: id) == first)
    }
}
