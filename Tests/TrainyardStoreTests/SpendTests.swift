import Foundation
import Testing
import TrainyardCore
import TrainyardStore
import TrainyardTesting

/// Attempt costs in the store: merged per attempt whatever the order and duplication of the
/// terminal events that carry them, summed per job and per spend group.
@Suite("Spend")
struct SpendTests {
    func temporaryStore() throws -> (JobStore, URL) {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("spend-test-\(UUID().uuidString).db")
        return (try JobStore(path: url.path), url)
    }

    func remove(_ url: URL) {
        for suffix in ["", "-wal", "-shm"] { try? FileManager.default.removeItem(atPath: url.path + suffix) }
    }

    /// What the model says one attempt cost: the report with the longest billed time.
    struct ExpectedCost {
        var jobID: JobID
        var team: String
        var backend: String
        var kind: String
        var label: String?
        var micros: Int64
        var endedAt: Date
    }

    static let base = Date(timeIntervalSince1970: 1_790_000_000)

    /// A random job: its submit, 1-3 attempts each ending in a terminal state (succeeded, failed,
    /// cancelled, timed out) whose cost is reported one to three times, sometimes also by an
    /// earlier, shorter report (a worker's inference before the backend's billable time);
    /// sometimes a cancel. Returns the messages and the cost the model expects per attempt.
    func history(_ generator: inout SplitMix64, index: Int) -> (records: [IngestRecord], costs: [ExpectedCost]) {
        let teams = ["vision", "ranking", "speech"]
        let backends = ["local", "sagemaker", "kubernetes"]
        let team = teams[Int(generator.next() % 3)]
        let id = JobID.derived(team: team, idempotencyKey: "job-\(index)-\(generator.next())")
        let kind = [JobKind.training, .processing, .batch][Int(generator.next() % 3)]
        let label: String? = generator.next() % 3 == 0 ? nil : ["a", "b"][Int(generator.next() % 2)]
        let submittedAt = Self.base.addingTimeInterval(Double(generator.next() % 86_400))
        var spec = JobSpec(name: "p", team: team, command: ["true"])
        spec.kind = kind
        if let label { spec.labels = ["project": label] }
        var records: [IngestRecord] = [.submitted(SubmitCommand(jobID: id, spec: spec, submittedAt: submittedAt))]
        var costs: [ExpectedCost] = []
        for attempt in 1...Int(generator.next() % 3 + 1) {
            let backend = backends[Int(generator.next() % 3)]
            let start = submittedAt.addingTimeInterval(Double(attempt) * 1000)
            let billed = Double(generator.next() % 7200_000) / 1000
            let hourly = Double(generator.next() % 40_000) / 1000
            let end = start.addingTimeInterval(billed)
            let state = [JobState.succeeded, .failed, .cancelled, .timedOut][Int(generator.next() % 4)]
            func terminal(_ source: EventSource, billed: Double, at time: Date) -> IngestRecord {
                .event(
                    LifecycleEvent(
                        jobID: id, attempt: attempt, state: state, source: source, occurredAt: time, team: team, backend: backend,
                        costUSD: hourly * billed / 3600, billedSeconds: billed, costIsEstimate: source == .worker ? true : nil))
            }
            records.append(.event(LifecycleEvent(jobID: id, attempt: attempt, state: .running, source: .backend, occurredAt: start, team: team)))
            for _ in 0..<Int(generator.next() % 3 + 1) { records.append(terminal(.backend, billed: billed, at: end)) }
            if generator.next() % 2 == 0, billed > 1 {
                records.append(terminal(.worker, billed: billed - 1, at: end.addingTimeInterval(-1)))
            }
            costs.append(
                ExpectedCost(
                    jobID: id, team: team, backend: backend, kind: kind.rawValue, label: label,
                    micros: Int64((hourly * billed / 3600 * 1_000_000).rounded()),
                    endedAt: Date(timeIntervalSince1970: Double(WireFormat.milliseconds(end)) / 1000)))
        }
        if generator.next() % 3 == 0 {
            records.append(.cancelRequested(CancelCommand(jobID: id, requestedAt: submittedAt.addingTimeInterval(5), reason: "stop")))
        }
        return (records, costs)
    }

    @Test("random histories in any order, with duplicates: every spend grouping's totals equal the sum over the jobs' attempts")
    func totalsEqualAttemptSums() throws {
        for round in 0..<40 {
            let seed = SplitMix64.seed(14, case: round)
            var generator = SplitMix64(seed: seed)
            let jobs = (0..<12).map { history(&generator, index: $0) }
            let expected = jobs.flatMap(\.costs)
            var shuffled = jobs.flatMap(\.records)
            shuffled += (0..<shuffled.count / 3).map { _ in shuffled[Int(generator.next() % UInt64(shuffled.count))] }
            shuffled.shuffle(using: &generator)
            let (store, url) = try temporaryStore()
            defer { remove(url) }
            let messages = shuffled.enumerated().map {
                IngestMessage(position: MessagePosition(topic: "events", partition: Int32($0.offset), offset: 0), record: $0.element)
            }
            for start in stride(from: 0, to: messages.count, by: 9) { try store.apply(Array(messages[start..<min(start + 9, messages.count)])) }

            // Per job: the record's total and its attempts' costs.
            for (jobID, costs) in Dictionary(grouping: expected, by: \.jobID) {
                let micros = costs.reduce(0) { $0 + $1.micros }
                let stored = try store.attemptCosts(of: jobID)
                #expect(stored.count == costs.count, "seed \(seed): job \(jobID) has \(stored.count) attempt costs, expected \(costs.count)")
                #expect(try store.job(jobID)?.costUSD == Double(micros) / 1_000_000, "seed \(seed): job \(jobID) total")
            }
            // Per grouping, over a window holding every attempt and over half of it.
            let windows = [
                (Self.base, Self.base.addingTimeInterval(10 * 86_400)), (Self.base, Self.base.addingTimeInterval(43_200)),
                (Self.base.addingTimeInterval(43_200), Self.base.addingTimeInterval(10 * 86_400)),
            ]
            for (since, until) in windows {
                let inWindow = expected.filter { $0.endedAt >= since && $0.endedAt < until }
                let groupings: [(SpendGrouping, (ExpectedCost) -> String?)] = [
                    (.team, \.team), (.backend, \.backend), (.kind, \.kind), (.label("project"), \.label),
                ]
                for (grouping, key) in groupings {
                    let report = try store.spend(SpendQuery(since: since, until: until, groupBy: grouping))
                    let model = Dictionary(grouping: inWindow, by: key).mapValues { $0.reduce(Int64(0)) { $0 + $1.micros } }
                    let actual = Dictionary(uniqueKeysWithValues: report.groups.map { ($0.key, $0.costMicros) })
                    #expect(actual == model, "seed \(seed): \(grouping.parameter) groups in [\(since), \(until))")
                    #expect(report.totalMicros == inWindow.reduce(0) { $0 + $1.micros }, "seed \(seed): \(grouping.parameter) total")
                }
                let vision = try store.spend(SpendQuery(since: since, until: until, groupBy: .backend, team: "vision"))
                #expect(vision.totalMicros == inWindow.filter { $0.team == "vision" }.reduce(0) { $0 + $1.micros }, "seed \(seed): one team's spend")
            }
        }
    }

    @Test("a re-emitted terminal event changes no cost; a longer billed report wins over a shorter one in either order")
    func mergeRule() throws {
        let id = JobID.derived(team: "t", idempotencyKey: "merge")
        func terminal(_ billed: Double, _ cost: Double, source: EventSource) -> IngestRecord {
            .event(
                LifecycleEvent(
                    jobID: id, attempt: 1, state: .failed, source: source, occurredAt: Self.base, team: "t", backend: "sagemaker", costUSD: cost,
                    billedSeconds: billed))
        }
        for order in [
            [terminal(10, 1, source: .worker), terminal(12, 1.2, source: .backend)],
            [terminal(12, 1.2, source: .backend), terminal(10, 1, source: .worker)],
        ] {
            let (store, url) = try temporaryStore()
            defer { remove(url) }
            for (offset, record) in (order + order).enumerated() {
                try store.apply([IngestMessage(position: MessagePosition(topic: "events", partition: 0, offset: Int64(offset)), record: record)])
            }
            let costs = try store.attemptCosts(of: id)
            #expect(costs.map(\.costUSD) == [1.2])
            #expect(costs.map(\.billedSeconds) == [12])
            #expect(try store.job(id)?.costUSD == 1.2)
        }
    }
}
