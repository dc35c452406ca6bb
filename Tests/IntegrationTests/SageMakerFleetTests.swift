import Foundation
import Testing
import TrainyardAWS
import TrainyardCore
import TrainyardStore
import TrainyardTesting

/// The whole fleet (aggregator + worker processes) with routing `training → sagemaker` against
/// the SageMaker emulator (`ops/test-peers/sagemaker_emulator.py`), which checks every SigV4
/// signature, gives jobs lifecycles chosen by their `emulator.*` labels and delivers state-change
/// events through EventBridge → SQS.
@Suite("SageMaker backend against the AWS emulator", .serialized)
struct SageMakerFleetTests {
    /// A training spec whose emulated lifecycle is chosen by labels.
    func training(
        _ name: String, outcome: String = "completed", seconds: Int = 2, events: String = "normal", maxRuntimeSeconds: Int = 600,
        maxAttempts: Int = 1
    ) -> JobSpec {
        JobSpec(
            name: name, team: "vision", kind: .training, image: "123456789012.dkr.ecr.us-east-1.amazonaws.com/train:1",
            command: ["python", "train.py"], args: ["--epochs", "1"], env: ["MODE": "test"],
            secrets: [SecretReference(env: "HF_TOKEN", secretName: "vision-hf-token")],
            resources: Resources(cpu: 2, memoryMiB: 4096), maxRuntimeSeconds: maxRuntimeSeconds,
            retry: RetryPolicy(maxAttempts: maxAttempts, backoffSeconds: 0.1), hyperparameters: ["lr": "0.01"],
            inputs: [InputChannel(name: "train", uri: "s3://trainyard-test/data")],
            labels: ["emulator.outcome": outcome, "emulator.seconds": String(seconds), "emulator.events": events])
    }

    /// A processing spec (a SageMaker processing job: no hyperparameters), lifecycle by labels.
    func processing(_ name: String, outcome: String = "completed", seconds: Int = 2) -> JobSpec {
        var spec = training(name, outcome: outcome, seconds: seconds)
        spec.kind = .processing
        spec.hyperparameters = [:]
        return spec
    }

    /// Writes the worker's configuration: training and processing go to SageMaker, everything else stays local.
    func workerConfig(_ fleet: Fleet, _ emulator: SageMakerEmulator, reconcileSeconds: Double) throws -> String {
        let path = fleet.home.appendingPathComponent("worker.yaml").path
        try """
        backends:
          - {name: laptop, type: local, concurrency: 4}
        \(emulator.workerTarget(name: "sm", settings: ["concurrency: 8", "reconcileSeconds: \(reconcileSeconds)", "maxAttempts: 6"]))
        routing:
          default: laptop
          rules:
            - {kinds: [training, processing], backend: sm}
        """.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    /// A fleet and an emulator for one test; the worker gets the emulator's credentials.
    func withFleet(
        _ name: String, throttleFirst: Int = 0, capacity: Int? = nil, reconcileSeconds: Double = 60,
        _ body: (Fleet, SageMakerEmulator, _ startWorker: (String, Int) throws -> Void) async throws -> Void
    ) async throws {
        try await Fleet.with(name: name) { fleet in
            let emulator = try SageMakerEmulator(directory: fleet.home, throttleFirst: throttleFirst, capacity: capacity)
            defer { emulator.stop() }
            let config = try workerConfig(fleet, emulator, reconcileSeconds: reconcileSeconds)
            try fleet.startAggregator()
            try await body(fleet, emulator) { worker, httpPort in
                try fleet.start(
                    worker,
                    ["worker", "--group", fleet.workerGroup, "--concurrency", "16", "--http-address", "127.0.0.1:\(httpPort)", "--config", config],
                    environment: emulator.credentialEnvironment.merging(["HOME": fleet.home.path]) { $1 })
            }
        }
    }

    func created(_ emulator: SageMakerEmulator) -> [String] {
        emulator.audit().filter { $0["result"] == "created" }.compactMap { $0["name"] }
    }

    @Test(
        "success, failure with reason, cancel and max runtime (training and processing jobs), from SageMaker events (reconciliation slower than the test)"
    )
    func lifecycles() async throws {
        try await withFleet("sm-lifecycles", reconcileSeconds: 600) { fleet, emulator, startWorker in
            try startWorker("worker-1", 0)
            var local = JobSpec(name: "local-batch", team: "vision", kind: .batch, command: ["/bin/sh", "-c", "exit 0"])
            local.maxRuntimeSeconds = 60
            let ids = try await fleet.submit([
                training("succeeds"), training("fails", outcome: "failed-algorithm"), training("cancelled", outcome: "hang"),
                training("too-long", outcome: "hang", maxRuntimeSeconds: 3), local,
                processing("processes"), processing("processing-fails", outcome: "failed-algorithm"),
                processing("processing-cancelled", outcome: "hang"),
            ])
            let (succeeds, fails, cancelled, tooLong, batch) = (ids[0], ids[1], ids[2], ids[3], ids[4])
            let (processes, processingFails, processingCancelled) = (ids[5], ids[6], ids[7])
            let running = try await eventually(timeout: .seconds(120)) {
                try fleet.records([cancelled, processingCancelled]).values.filter { $0.state == .running }.count == 2
            }
            try #require(running, "the jobs to cancel never ran:\n\(fleet.logTail("worker-1"))")
            try await fleet.cancel(cancelled, reason: "test cancel")
            try await fleet.cancel(processingCancelled, reason: "test cancel")

            let records = try await fleet.waitForTerminal(ids, timeout: .seconds(240))
            #expect(records[succeeds]?.state == .succeeded && records[succeeds]?.backend == "sagemaker")
            #expect(records[fails]?.state == .failed && records[fails]?.failureClass == .userError)
            #expect(records[fails]?.reason?.hasPrefix("AlgorithmError:") == true, "\(records[fails]?.reason ?? "-")")
            #expect(records[cancelled]?.state == .cancelled)
            #expect(records[tooLong]?.state == .timedOut)
            #expect(records[batch]?.state == .succeeded && records[batch]?.backend == "local", "routing keeps other kinds local")
            #expect(records[processes]?.state == .succeeded && records[processes]?.backend == "sagemaker")
            #expect(records[processingFails]?.state == .failed && records[processingFails]?.reason?.hasPrefix("AlgorithmError:") == true)
            #expect(records[processingCancelled]?.state == .cancelled)
            #expect(records.values.allSatisfy { $0.attempt == 1 })
            let sagemakerJobs = [succeeds, fails, cancelled, tooLong, processes, processingFails, processingCancelled]
            for id in sagemakerJobs {
                #expect(records[id]?.stateSource == .backend, "SageMaker's own state decided \(id)")
            }
            #expect(created(emulator).sorted() == sagemakerJobs.map { "ty-\($0.rawValue)-a1" }.sorted())
            let processingCreates = emulator.audit().filter { $0["action"] == "CreateProcessingJob" && $0["result"] == "created" }
            #expect(
                Set(processingCreates.compactMap { $0["name"] })
                    == Set([processes, processingFails, processingCancelled].map { "ty-\($0.rawValue)-a1" }))
        }
    }

    @Test("duplicated, stale and missing events: state is still right (missing ones through Describe reconciliation)")
    func unreliableEvents() async throws {
        try await withFleet("sm-events", reconcileSeconds: 3) { fleet, emulator, startWorker in
            try startWorker("worker-1", 0)
            let ids = try await fleet.submit([
                training("dup-ok", events: "duplicate"), training("dup-fails", outcome: "failed-algorithm", events: "duplicate"),
                training("silent-ok", events: "drop"), training("silent-fails", outcome: "failed-capacity", events: "drop"),
            ])
            let records = try await fleet.waitForTerminal(ids, timeout: .seconds(240))
            #expect(records[ids[0]]?.state == .succeeded)
            #expect(records[ids[1]]?.state == .failed && records[ids[1]]?.failureClass == .userError)
            #expect(records[ids[2]]?.state == .succeeded)
            #expect(records[ids[3]]?.state == .failed && records[ids[3]]?.failureClass == .infrastructure)
            #expect(records[ids[3]]?.reason?.hasPrefix("CapacityError:") == true)
            let store = try JobStore(readingAt: fleet.databasePath)
            for id in ids {
                let terminal = try store.events(of: id).map(\.event).filter { $0.attempt == 1 && $0.state.isTerminal }
                #expect(Set(terminal.map(\.state)).count == 1, "one terminal state per attempt for \(id): \(terminal.map(\.state))")
            }
            #expect(created(emulator).count == ids.count)
        }
    }

    @Test("throttling on the first SageMaker calls: retried with backoff, the jobs still succeed")
    func throttling() async throws {
        try await withFleet("sm-throttle", throttleFirst: 5, reconcileSeconds: 5) { fleet, emulator, startWorker in
            try startWorker("worker-1", 0)
            let ids = try await fleet.submit([training("throttled-1"), training("throttled-2")])
            let records = try await fleet.waitForTerminal(ids, timeout: .seconds(240))
            #expect(records.values.allSatisfy { $0.state == .succeeded && $0.attempt == 1 }, "\(records.values.map(\.state))")
            #expect(emulator.audit().filter { $0["result"] == "ThrottlingException" }.count == 5)
            #expect(created(emulator).count == 2)
        }
    }

    @Test("a worker killed with -9 while training jobs run: the request is delivered again, exactly one training job per attempt")
    func duplicateDeliveryAfterKill() async throws {
        try await withFleet("sm-kill", reconcileSeconds: 3) { fleet, emulator, startWorker in
            try startWorker("worker-1", 0)
            // Held: they run until released below, however long the steps before take under load.
            let ids = try await fleet.submit((0..<4).map { training("long-\($0)", outcome: "held") })
            let allRunning = try await eventually(timeout: .seconds(120)) {
                try fleet.records(ids).values.filter { $0.state == .running }.count == ids.count
            }
            try #require(allRunning, "jobs never ran:\n\(fleet.logTail("worker-1"))")
            fleet.crash("worker-1")
            try startWorker("worker-2", 0)
            for id in ids { try await emulator.release(job: "ty-\(id.rawValue)-a1") }
            let records = try await fleet.waitForTerminal(ids, timeout: .seconds(120))
            #expect(records.values.allSatisfy { $0.state == .succeeded && $0.attempt == 1 }, "\(records.values.map(\.state))")
            let names = created(emulator)
            #expect(names.count == ids.count && Set(names) == Set(ids.map { "ty-\($0.rawValue)-a1" }), "each attempt created once: \(names)")
            let store = try JobStore(readingAt: fleet.databasePath)
            let reporters = Set(try ids.compactMap { try store.events(of: $0).last { $0.event.state == .succeeded }?.event.workerID })
            #expect(reporters.count == 1, "the successor reported the outcomes")
        }
    }

    @Test("ResourceLimitExceeded pauses claiming (backpressure) instead of failing the job; it runs once capacity frees")
    func capacityBackpressure() async throws {
        try await withFleet("sm-capacity", capacity: 1, reconcileSeconds: 3) { fleet, emulator, startWorker in
            let port = try Fleet.freePort()
            try startWorker("worker-1", port)
            let first = try await fleet.submit([training("holds-the-quota", outcome: "held")])[0]
            let running = try await eventually(timeout: .seconds(120)) { try fleet.records([first])[first]?.state == .running }
            try #require(running, "the first job never ran:\n\(fleet.logTail("worker-1"))")
            let second = try await fleet.submit([training("waits-for-quota", seconds: 1)])[0]
            let paused = try await eventually(timeout: .seconds(120)) {
                let metrics = try? await Fleet.get(port: port, path: "/metrics").1
                return metrics?.split(separator: "\n").contains { $0.hasPrefix("trainyard_worker_paused") && $0.hasSuffix(" 1") } ?? false
            }
            #expect(paused, "the worker kept claiming while the quota was exhausted:\n\(fleet.logTail("worker-1"))")
            try await emulator.release(job: "ty-\(first.rawValue)-a1")
            let records = try await fleet.waitForTerminal([first, second], timeout: .seconds(240))
            #expect(records[first]?.state == .succeeded && records[second]?.state == .succeeded)
            #expect(records[second]?.attempt == 1, "a quota error is not a failed attempt")
            #expect(emulator.audit().contains { $0["name"] == "ty-\(second.rawValue)-a1" && $0["result"] == "ResourceLimitExceeded" })
            let resumed = try await eventually(timeout: .seconds(120)) {
                let metrics = try? await Fleet.get(port: port, path: "/metrics").1
                return metrics?.split(separator: "\n").contains { $0.hasPrefix("trainyard_worker_paused") && $0.hasSuffix(" 0") } ?? false
            }
            #expect(resumed, "claiming resumes once the quota frees")
        }
    }

    @Test("requests with a wrong secret are refused by the emulator (it really checks signatures)")
    func signaturesAreChecked() async throws {
        let directory = try TestEnvironment.temporaryDirectory("sm-signatures")
        let emulator = try SageMakerEmulator(directory: directory)
        defer { emulator.stop() }
        func client(secret: String) -> AWSJSONClient {
            AWSJSONClient(
                configuration: AWSServiceConfiguration(
                    endpoint: URL(string: emulator.info.endpoint)!, region: emulator.info.region, signingName: "sagemaker", targetPrefix: "SageMaker",
                    jsonVersion: "1.1"),
                credentials: AWSCredentialChain(environment: ["AWS_ACCESS_KEY_ID": emulator.info.accessKeyId, "AWS_SECRET_ACCESS_KEY": secret]),
                retry: AWSRetryPolicy(maxAttempts: 1), logger: TestEnvironment.logger("sm-signatures"))
        }
        let listed = try await client(secret: emulator.info.secretAccessKey).call("ListTrainingJobs", [:])
        #expect(listed["TrainingJobSummaries"]?.array != nil)
        do {
            _ = try await client(secret: "wrong").call("ListTrainingJobs", [:])
            Issue.record("a wrong signature was accepted")
        } catch {
            #expect(error.code == "SignatureDoesNotMatch" && error.statusCode == 403, "\(error)")
        }
    }
}
