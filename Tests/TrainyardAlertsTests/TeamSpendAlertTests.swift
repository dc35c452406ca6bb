import Foundation
import Testing
import TrainyardAlerts
import TrainyardCore
import TrainyardStore
import TrainyardTesting

/// The `teamSpend` rule against a real store: a team's spend in the window above its threshold
/// fires once, stays quiet while it holds, and resolves once when the spend leaves the window.
@Suite struct TeamSpendAlertTests {
    let start = Date(timeIntervalSince1970: 1_800_000_000)

    func charge(_ store: JobStore, team: String, usd: Double, at seconds: Double, offset: Int64) throws {
        let event = LifecycleEvent(
            jobID: JobID.derived(team: team, idempotencyKey: "spend-\(offset)"), attempt: 1, state: .succeeded, source: .backend,
            occurredAt: start.addingTimeInterval(seconds), team: team, backend: "local", costUSD: usd, billedSeconds: 60)
        try store.apply([IngestMessage(position: MessagePosition(topic: "events", partition: 0, offset: offset), record: .event(event))])
    }

    @Test("over its threshold a team's alert fires once and resolves once; a team without a threshold never fires; the file reads")
    func firesOnceResolvesOnce() throws {
        let directory = try TestEnvironment.temporaryDirectory("team-spend")
        defer { try? FileManager.default.removeItem(at: directory) }
        // The alerts file is YAML; its JSON form reads the same.
        let configuration = try JSONDecoder().decode(
            AlertConfiguration.self, from: Data(#"{"teamSpend": {"windowSeconds": 3600, "teams": {"vision": 10}}}"#.utf8))
        #expect(configuration.teamSpend.threshold(for: "vision") == 10 && configuration.teamSpend.threshold(for: "ranking") == nil)

        let store = try JobStore(path: directory.appendingPathComponent("store.db").path)
        let evaluator = AlertEvaluator(configuration: configuration)
        func step(_ seconds: Double) throws -> [String] {
            let now = start.addingTimeInterval(seconds)
            let active = evaluator.evaluate([], teamSpend: try evaluator.teamSpend(in: store, now: now), now: now)
            return try store.updateAlerts(active: active, now: now).map { "\($0.alertID) \($0.status.rawValue)" }
        }
        try charge(store, team: "vision", usd: 6, at: 0, offset: 1)
        try charge(store, team: "ranking", usd: 500, at: 0, offset: 2)
        #expect(try step(10) == [])  // 6 ≤ 10; ranking has no threshold
        try charge(store, team: "vision", usd: 6, at: 20, offset: 3)
        #expect(try step(30) == ["team-spend:vision firing"])
        #expect(try step(60) == [])
        try charge(store, team: "vision", usd: 1, at: 70, offset: 4)
        #expect(try step(80) == [])
        #expect(try step(3605) == ["team-spend:vision resolved"])  // the first 6 left the window: 7 ≤ 10
        #expect(try step(3700) == [])
        let fired = try #require(try store.pendingAlertNotifications(limit: 10).first?.alert)
        #expect(fired.rule == .teamSpend && fired.value == 12 && fired.threshold == 10)
        #expect(fired.summary == "team vision spent $12.00 in the last 1 h (threshold $10.00)")
    }
}
