import Foundation
import Testing
import TrainyardCore
import TrainyardStore

/// An `IngestMessage` carries its record's stored JSON, encoded where the message is made (the
/// aggregator's converting stage); the store must keep exactly what the record says.
@Suite struct IngestEncodingTests {
    @Test("the spec and the history kept for a batch are the records' own (a heartbeat stays out of the history)")
    func storesTheRecordsJSON() throws {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("store-test-\(UUID().uuidString).db")
        defer { for suffix in ["", "-wal", "-shm"] { try? FileManager.default.removeItem(atPath: url.path + suffix) } }
        let store = try JobStore(path: url.path)
        let start = Date(timeIntervalSince1970: 1_790_000_000)
        let ids = (0..<3).map { JobID.derived(team: "t", idempotencyKey: "key-\($0)") }
        var messages: [IngestMessage] = []
        var expected: [JobID: [LifecycleEvent]] = [:]
        for (index, id) in ids.enumerated() {
            let spec = JobSpec(name: "job-\(index)", team: "t", command: ["echo", "\(index)"])
            let submitted = start.addingTimeInterval(Double(index))
            messages.append(
                IngestMessage(
                    position: MessagePosition(topic: "requests", partition: 0, offset: Int64(index)),
                    record: .submitted(SubmitCommand(jobID: id, spec: spec, submittedAt: submitted))))
            let claimed = LifecycleEvent(
                jobID: id, attempt: 1, state: .claimed, source: .worker, occurredAt: submitted.addingTimeInterval(1), team: "t",
                workerID: "w-\(index)")
            let running = LifecycleEvent(
                jobID: id, attempt: 1, state: .running, source: .backend, occurredAt: submitted.addingTimeInterval(2), team: "t",
                backend: "local", resourceName: "r-\(index)")
            let heartbeat = LifecycleEvent(
                jobID: id, attempt: 1, state: .running, source: .backend, occurredAt: submitted.addingTimeInterval(2), team: "t",
                backend: "local", resourceName: "r-\(index)", observedAt: submitted.addingTimeInterval(3))
            for (step, event) in [claimed, running, heartbeat].enumerated() {
                messages.append(
                    IngestMessage(position: MessagePosition(topic: "events", partition: 0, offset: Int64(index * 3 + step)), record: .event(event)))
            }
            let queued = LifecycleEvent(jobID: id, attempt: 0, state: .queued, source: .aggregator, occurredAt: submitted, team: "t")
            expected[id] = [queued, claimed, running]
        }
        try store.apply(messages)
        for (index, id) in ids.enumerated() {
            #expect(try store.spec(of: id)?.name == "job-\(index)")
            #expect(try store.events(of: id).map(\.event) == expected[id])
        }
    }
}
