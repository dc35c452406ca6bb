import Foundation
import SimulatedBackend
import Testing
import TrainyardAPI
import TrainyardCore
import TrainyardStore
import TrainyardTesting

#if canImport(FoundationNetworking)
    import FoundationNetworking
#endif

/// Team quotas across real worker processes sharing the claims topic (docs/fair-share.md).
@Suite("Team quotas in the fleet", .serialized)
struct QuotaFleetTests {
    @Test(
        "team A floods its 2-slot quota on one partition: never more than 2 of its attempts run, B's job starts before A's backlog is through; the dashboard shows A against its quota"
    )
    func floodedQuota() async throws {
        try await Fleet.with(name: "quota", partitions: 1) { fleet in
            let config = fleet.home.appendingPathComponent("worker.yaml")
            try "backends:\n  - {name: dry-run, type: simulated, concurrency: 1000}\n".write(to: config, atomically: true, encoding: .utf8)
            let quotas = fleet.home.appendingPathComponent("quotas.yaml")
            try "teams:\n  flood: {maxAttempts: 2}\n".write(to: quotas, atomically: true, encoding: .utf8)
            let ledger = try SimulatedAttemptLedger(path: fleet.stateDirectory.appendingPathComponent("simulated.sqlite").path)
            let keyFile = fleet.home.appendingPathComponent("api-keys.yaml").path
            let admin = APIKeyFile.generateKey()
            try APIKeyFile.append(key: admin, name: "admin", team: nil, to: keyFile)
            let apiPort = try Fleet.freePort()
            try fleet.startAggregator(httpPort: apiPort, arguments: ["--api-keys", keyFile, "--quotas", quotas.path])
            let metricsPort = try Fleet.freePort()
            for (name, port) in [("worker-1", metricsPort), ("worker-2", 0)] {
                try fleet.startWorker(name, httpPort: port, arguments: ["--config", config.path, "--quotas", quotas.path])
            }
            func spec(_ team: String, _ index: Int) -> JobSpec {
                JobSpec(
                    name: "\(team)-\(index)", team: team, command: ["true"], maxRuntimeSeconds: 60,
                    labels: [SimulationLabel.seconds.rawValue: "2"])
            }
            // One partition: B's job sits behind all of A's in the same log.
            // In one producer's batch, so B's job reaches the topic right behind A's (a second
            // producer would connect first: seconds on a loaded machine, while A's jobs start).
            let submitted = try await fleet.submit((0..<12).map { spec("flood", $0) } + [spec("small", 0)])
            let flood = Array(submitted.prefix(12))
            let small = Array(submitted.suffix(1))
            let records = try await fleet.waitForTerminal(flood + small, timeout: .seconds(240))
            for id in flood + small {
                #expect(records[id]?.state == .succeeded, "\(id): \(String(describing: records[id]?.state))\n\(fleet.logTail("worker-1"))")
                #expect(try ledger.startCount(of: "ty-\(id.rawValue)-a1") == 1, "\(id) started more than once")
            }

            let store = try JobStore(readingAt: fleet.databasePath)
            var intervals: [(start: Date, end: Date)] = []
            var heldReasons: Set<String> = []
            for id in flood {
                let events = try store.events(of: id).map(\.event)
                let start = try #require(events.filter { $0.state == .running }.map(\.occurredAt).min(), "\(id) never ran")
                let end = try #require(events.filter { $0.state.isTerminal }.map(\.occurredAt).max())
                intervals.append((start, end))
                heldReasons.formUnion(events.filter { $0.state == .queued }.compactMap(\.reason))
            }
            // Ends before starts at the same instant: a slot freed and taken at once is not an overlap.
            var changes: [(time: Date, delta: Int)] = []
            for interval in intervals {
                changes.append((interval.start, 1))
                changes.append((interval.end, -1))
            }
            changes.sort { $0.time != $1.time ? $0.time < $1.time : $0.delta < $1.delta }
            var running = 0
            var most = 0
            for change in changes {
                running += change.delta
                most = max(most, running)
            }
            #expect(most <= 2, "team flood ran \(most) attempts at once, over its quota of 2")
            #expect(heldReasons.contains("team quota: 2 of 2 running"), "held jobs reported \(heldReasons)")

            // Every grant was released, as worker-1's fold of the claims topic shows.
            let released = try await eventually(timeout: .seconds(120)) {
                let metrics = try await Fleet.get(port: metricsPort, path: "/metrics").1
                return metrics.contains("trainyard_team_running{team=\"flood\"} 0")
                    && metrics.contains("trainyard_team_quota{team=\"flood\",resource=\"attempts\"} 2")
            }
            let metrics = try await Fleet.get(port: metricsPort, path: "/metrics").1
            #expect(released, "worker-1's /metrics: \(metrics)")

            // The aggregator's dashboard shows the team against the quotas file it was given.
            var dashboard = URLRequest(url: URL(string: "http://127.0.0.1:\(apiPort)/")!)
            dashboard.setValue("Bearer \(admin)", forHTTPHeaderField: "Authorization")
            let page = String(decoding: try await URLSession.shared.data(for: dashboard).0, as: UTF8.self)
            #expect(page.contains(#"<tr data-team="flood"><td>flood</td><td class="num" data-resource="attempts">0 / 2</td>"#), "\(page)")

            let smallStart = try #require(try store.events(of: small[0]).map(\.event).filter { $0.state == .running }.map(\.occurredAt).min())
            let floodStarts = intervals.map(\.start).sorted()
            let smallHistory = try store.events(of: small[0]).map(\.event).map {
                "\($0.occurredAt) \($0.state.rawValue) \($0.source.rawValue) \($0.workerID ?? "-") \($0.reason ?? "")"
            }
            #expect(
                smallStart < floodStarts[floodStarts.count - 2],
                """
                team small's job waited behind team flood's backlog; flood starts \(floodStarts)
                small's events:\n\(smallHistory.joined(separator: "\n"))
                worker-1:\n\(fleet.logTail("worker-1", lines: 60))\nworker-2:\n\(fleet.logTail("worker-2", lines: 60))
                """)
        }
    }
}
