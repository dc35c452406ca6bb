import Foundation
import Testing
import TrainyardCore
import TrainyardStore
import TrainyardTesting

/// `JobStore.teamUsage` against a real SQLite store fed the messages the aggregator applies.
@Suite("Team usage in the store")
struct TeamUsageTests {
    @Test("running jobs count with their specs' GPUs and CPUs until they end; queued jobs held by a team quota count apart")
    func usageFollowsStates() throws {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("team-usage-\(UUID().uuidString).db")
        defer { for suffix in ["", "-wal", "-shm"] { try? FileManager.default.removeItem(atPath: url.path + suffix) } }
        let store = try JobStore(path: url.path)
        let base = Date(timeIntervalSince1970: 1_790_000_000)
        var offset: Int64 = 0
        func apply(_ records: [IngestRecord]) throws {
            try store.apply(
                records.map { record in
                    offset += 1
                    return IngestMessage(position: MessagePosition(topic: "events", partition: 0, offset: offset), record: record)
                })
        }
        func submit(_ id: JobID, team: String, gpu: Int, cpu: Double) -> IngestRecord {
            .submitted(
                SubmitCommand(
                    jobID: id, spec: JobSpec(name: "j", team: team, command: ["true"], resources: Resources(cpu: cpu, gpu: gpu)), submittedAt: base))
        }
        func event(_ id: JobID, _ state: JobState, team: String, second: Double, reason: String? = nil) -> IngestRecord {
            .event(
                LifecycleEvent(
                    jobID: id, attempt: 1, state: state, source: .worker, occurredAt: base.addingTimeInterval(second), team: team, backend: "local",
                    exitCode: state.isTerminal ? 0 : nil, reason: reason))
        }
        let (a1, a2, a3, b1) = (JobID.generate(), JobID.generate(), JobID.generate(), JobID.generate())
        try apply([
            submit(a1, team: "alpha", gpu: 2, cpu: 4), submit(a2, team: "alpha", gpu: 1, cpu: 0.5), submit(a3, team: "alpha", gpu: 1, cpu: 1),
            submit(b1, team: "beta", gpu: 0, cpu: 1),
        ])
        #expect(try store.teamUsage() == [], "submitted jobs neither run nor are held")

        try apply([
            event(a1, .claimed, team: "alpha", second: 1), event(a2, .running, team: "alpha", second: 2),
            event(a3, .queued, team: "alpha", second: 3, reason: "team quota: 2 of 2 running"),
            event(b1, .queued, team: "beta", second: 3, reason: "waiting for capacity"),
        ])
        #expect(
            try store.teamUsage() == [TeamUsage(team: "alpha", running: 2, gpus: 3, cpus: 4.5, heldByQuota: 1)],
            "a queued job with another reason is not held by a quota")
        #expect(try store.teamUsage(team: "beta") == [])

        try apply([event(a1, .succeeded, team: "alpha", second: 10), event(a3, .running, team: "alpha", second: 11)])
        #expect(try store.teamUsage(team: "alpha") == [TeamUsage(team: "alpha", running: 2, gpus: 2, cpus: 1.5)])
    }
}
