import Foundation
import Testing
import TrainyardCore
import TrainyardKafka
import TrainyardStore
import TrainyardTesting

/// Alert rules evaluated by a real aggregator over jobs run by real workers: each alert fires
/// once and resolves once, on the alerts topic and at a webhook that fails its first requests.
@Suite("Alerts against the local broker", .serialized)
struct AlertTests {
    /// The alert notifications on the topic so far.
    func alerts(_ recording: TopicRecording) -> [AlertMessage] {
        recording.messages.compactMap { try? AlertCodec.decode($0.value) }
    }

    /// The statuses per alert id, in order.
    func history(_ recording: TopicRecording) -> [String: [AlertStatus]] {
        Dictionary(grouping: alerts(recording), by: \.alertID).mapValues { $0.map(\.status) }
    }

    func spec(_ name: String, team: String, _ command: [String]) -> JobSpec {
        JobSpec(name: name, team: team, command: command, maxRuntimeSeconds: 300, retry: RetryPolicy(maxAttempts: 1, backoffSeconds: 0))
    }

    @Test("queue wait, failed jobs, failure rate and an unobserved job each fire once and resolve once; the webhook gets them after retries")
    func alertsFireOnceAndResolveOnce() async throws {
        try await Fleet.with(name: "alerts") { fleet in
            let webhookLog = fleet.home.appendingPathComponent("webhook.jsonl")
            let receiver = try TestPython.startPeer(
                "webhook_receiver.py", arguments: [webhookLog.path, "2"], log: fleet.home.appendingPathComponent("webhook.log"))
            defer { TestPython.stop(receiver.process) }
            let webhookPort = try #require(TestPython.port(announcedIn: receiver.firstLine), "webhook receiver said: \(receiver.firstLine)")
            let config = fleet.home.appendingPathComponent("alerts.yaml")
            try """
            evaluationIntervalSeconds: 0.3
            jobFailed: {resolveAfterSeconds: 8}
            stuck: {provisioningSeconds: 600, runningGraceSeconds: 600, unobservedSeconds: 4}
            queueWait: {thresholdSeconds: 2}
            failureRate: {windowSeconds: 600, threshold: 0.5, minimumFinished: 3}
            webhook: {url: "http://127.0.0.1:\(webhookPort)/hook", maxAttempts: 5, timeoutSeconds: 2}
            """.write(to: config, atomically: true, encoding: .utf8)

            let recording = try TopicRecording(topic: fleet.topics.alerts, kafka: fleet.kafka)

            // 1. No worker yet: the long job waits in the queue past 2 s.
            try fleet.startAggregator(arguments: ["--alerts-config", config.path])
            let long = try await fleet.submit([spec("long", team: "alerts-a", ["sleep", "120"])])[0]
            let queueAlert = "queue-wait:alerts-a"
            let queued = try await eventually(timeout: .seconds(120)) { history(recording)[queueAlert] == [.firing] }
            try #require(queued, "no queue-wait alert: \(history(recording))\n\(fleet.logTail("aggregator"))")

            // 2. A worker claims it: the queue-wait alert resolves. Three failures of team b fire
            //    three job-failed alerts (resolved 8 s after they finished) and one failure-rate alert.
            try fleet.startWorker("worker-1", arguments: ["--heartbeat-interval", "0.5"])
            let claimed = try await eventually(timeout: .seconds(120)) { history(recording)[queueAlert] == [.firing, .resolved] }
            try #require(claimed, "the queue-wait alert did not resolve: \(history(recording))\n\(fleet.logTail("worker-1"))")
            let failing = try await fleet.submit((0..<3).map { spec("fails-\($0)", team: "alerts-b", ["/bin/sh", "-c", "exit 3"]) })
            let failedAlerts = failing.map { "job-failed:\($0)" }
            let firstRound = try await eventually(timeout: .seconds(120)) {
                let history = history(recording)
                return history[queueAlert] == [.firing, .resolved] && history["failure-rate:alerts-b:local"] == [.firing]
                    && failedAlerts.allSatisfy { history[$0] == [.firing, .resolved] }
            }
            try #require(firstRound, "alerts so far: \(history(recording))\n\(fleet.logTail("aggregator"))\n\(fleet.logTail("worker-1"))")

            // 3. The worker dies while the long job runs: no heartbeats, the job is unobserved. A
            //    new worker adopts it and its heartbeats resolve the alert.
            try #require(try fleet.records([long])[long]?.state == .running)
            fleet.crash("worker-1")
            let unobservedAlert = "job-unobserved:alerts-a:local"
            let unobserved = try await eventually(timeout: .seconds(120)) { history(recording)[unobservedAlert] == [.firing] }
            try #require(unobserved, "no unobserved alert: \(history(recording))")
            try fleet.startWorker("worker-2", arguments: ["--heartbeat-interval", "0.5"])
            let adopted = try await eventually(timeout: .seconds(120)) { history(recording)[unobservedAlert] == [.firing, .resolved] }
            try #require(adopted, "unobserved alert never resolved: \(history(recording))\n\(fleet.logTail("worker-2"))")
            try await fleet.cancel(long)
            _ = try await fleet.waitForTerminal([long])

            // Nothing else fired, and nothing fired twice (a few more evaluations to be sure).
            try await Task.sleep(for: .seconds(2))
            var expected: [String: [AlertStatus]] = [
                queueAlert: [.firing, .resolved], "failure-rate:alerts-b:local": [.firing], unobservedAlert: [.firing, .resolved],
            ]
            for id in failedAlerts { expected[id] = [.firing, .resolved] }
            #expect(history(recording) == expected)
            let failed = try #require(alerts(recording).first { $0.alertID == failedAlerts[0] })
            #expect(failed.jobID == failing[0] && failed.team == "alerts-b" && failed.rule == .jobFailed && failed.summary.contains("ended FAILED"))

            // The webhook: two refused requests, then every notification exactly once, each alert's
            // firing before its resolution (the topic's partitions say nothing of order across alerts).
            let onTopic = alerts(recording).map { "\($0.alertID) \($0.status.rawValue)" }
            let delivered = try await eventually(timeout: .seconds(120)) {
                (try? webhookRequests(webhookLog).filter { $0.status == 200 }.count) == onTopic.count
            }
            let requests = try webhookRequests(webhookLog)
            #expect(delivered, "webhook requests: \(requests.count), notifications: \(onTopic.count)")
            #expect(requests.prefix(2).map(\.status) == [500, 500])
            let accepted = requests.filter { $0.status == 200 }.map(\.alert)
            #expect(accepted.map { "\($0.alertID) \($0.status.rawValue)" }.sorted() == onTopic.sorted())
            #expect(Dictionary(grouping: accepted, by: \.alertID).mapValues { $0.map(\.status) } == expected)
            #expect(requests.allSatisfy { $0.text.hasPrefix("[FIRING]") || $0.text.hasPrefix("[RESOLVED]") })
            await recording.stop()
        }
    }

    struct WebhookRequest {
        var status: Int
        var text: String
        var alert: AlertMessage
    }

    func webhookRequests(_ file: URL) throws -> [WebhookRequest] {
        struct Line: Decodable {
            struct Body: Decodable {
                var text: String
                var alert: AlertMessage
            }
            var status: Int
            var body: Body
        }
        let text = (try? String(contentsOf: file, encoding: .utf8)) ?? ""
        return try text.split(separator: "\n").map { line in
            let decoded = try WireFormat.decoder().decode(Line.self, from: Data(line.utf8))
            return WebhookRequest(status: decoded.status, text: decoded.body.text, alert: decoded.body.alert)
        }
    }
}
