import Foundation
import Testing
import TrainyardCore
import TrainyardKafka
import TrainyardStore
import TrainyardTesting

/// Secrets are references: the value reaches the job, and nothing else.
@Suite("Secrets against the local broker", .serialized)
struct SecretsTests {
    @Test("a secret's value reaches the job's environment but no topic, no store and no log; a missing one fails without retries")
    func secretsStayReferences() async throws {
        try await Fleet.with(name: "secrets") { fleet in
            let value = "s3cr3t-\(UUID().uuidString)"
            let secrets = fleet.home.appendingPathComponent("secrets")
            try FileManager.default.createDirectory(at: secrets, withIntermediateDirectories: true)
            try Data((value + "\n").utf8).write(to: secrets.appendingPathComponent("secrets-db-password"))
            try fleet.startAggregator()
            try fleet.startWorker("worker-1", arguments: ["--secrets-dir", secrets.path, "--log-level", "trace"])

            // The job checks the value's length only: the value itself must not appear in its command.
            var uses = JobSpec(
                name: "uses-secret", team: "secrets",
                command: ["/bin/sh", "-c", "[ -n \"$DB_PASSWORD\" ] && [ \"${#DB_PASSWORD}\" -eq \(value.count) ] && echo ok > seen.txt"])
            uses.secrets = [SecretReference(env: "DB_PASSWORD", secretName: "secrets-db-password")]
            var missing = JobSpec(name: "missing-secret", team: "secrets", command: ["true"])
            missing.secrets = [SecretReference(env: "API_TOKEN", secretName: "secrets-not-there")]
            let ids = try await fleet.submit([uses, missing])
            let records = try await fleet.waitForTerminal(ids, timeout: .seconds(240))

            #expect(records[ids[0]]?.state == .succeeded, "the job saw the secret")
            let seen = try String(
                contentsOf: fleet.stateDirectory.appendingPathComponent("runs/ty-\(ids[0].rawValue)-a1/work/seen.txt"), encoding: .utf8)
            #expect(seen == "ok\n")
            #expect(records[ids[1]]?.state == .failed && records[ids[1]]?.failureClass == .invalidRequest && records[ids[1]]?.attempt == 1)
            #expect(records[ids[1]]?.reason?.contains("secrets-not-there") == true)

            // Nowhere else: not in the store, the services' logs, the run directory's records, or any topic.
            #expect(try !JobStore(readingAt: fleet.databasePath).canonicalDump().contains(value))
            for log in ["aggregator", "worker-1"] { #expect(!fleet.logTail(log, lines: 100_000).contains(value), "\(log) log") }
            let run = fleet.stateDirectory.appendingPathComponent("runs/ty-\(ids[0].rawValue)-a1")
            for file in ["started.json", "process.json", "status.json", "supervisor.log", "stdout.log", "stderr.log"] {
                let text = (try? String(contentsOf: run.appendingPathComponent(file), encoding: .utf8)) ?? ""
                #expect(!text.contains(value), "\(file)")
            }
            let consumer = try KafkaConsumer(
                configuration: KafkaConsumerConfiguration(
                    common: fleet.kafka, groupID: TestEnvironment.uniqueName("secrets"), topics: [fleet.topics.requests, fleet.topics.events]),
                logger: TestEnvironment.logger("secrets"))
            // Every message about the two jobs: their submits plus the events the store holds.
            let store = try JobStore(readingAt: fleet.databasePath)
            let expected = try ids.count + ids.map { try store.events(of: $0).filter { $0.position.topic == fleet.topics.events }.count }.reduce(0, +)
            var messages = 0
            var iterator = consumer.events.makeAsyncIterator()
            while messages < expected, let event = await iterator.next() {
                guard case .message(let message) = event else { continue }
                messages += 1
                #expect(!String(decoding: message.value, as: UTF8.self).contains(value), "\(message.topic)@\(message.offset)")
            }
            await consumer.close()
            #expect(messages == expected, "read the jobs' requests and events")
        }
    }
}
