import Foundation
import Glibc
import Synchronization
import TrainyardCore
import TrainyardKafka
import TrainyardStore

#if canImport(FoundationNetworking)
    import FoundationNetworking
#endif

/// A Trainyard deployment for one test: its own topic prefix, store and state directory, and
/// real `trainyard` processes (aggregator, workers) talking to the local broker.
public final class Fleet: Sendable {
    public let topics: TopicNames
    public let home: URL
    public let kafka: KafkaConfiguration
    public let executable: URL
    /// The running processes by name.
    private let processes = Mutex<[String: Process]>([:])

    public var databasePath: String { home.appendingPathComponent("trainyard.db").path }
    public var stateDirectory: URL { home.appendingPathComponent("state") }

    /// Creates the topics (4 partitions each) and the folders; starts nothing yet. `brokers`:
    /// another broker than the shared test broker (e.g. a `PrivateBroker` the test pauses).
    public init(name: String, partitions: Int = 4, brokers: String? = nil) async throws {
        topics = TopicNames(prefix: TestEnvironment.uniqueName(name))
        home = try TestEnvironment.temporaryDirectory(name)
        executable = try TestEnvironment.executable()
        kafka = try await TestEnvironment.kafka(topics: topics.all, partitions: partitions, brokers: brokers)
    }

    /// Environment for a `trainyard` child process of this fleet.
    public var environment: [String: String] {
        var environment = ProcessInfo.processInfo.environment
        environment["TRAINYARD_BROKERS"] = kafka.bootstrapServers
        environment["TRAINYARD_TOPIC_PREFIX"] = topics.prefix
        environment["TRAINYARD_HOME"] = home.path
        environment["TRAINYARD_LOG_LEVEL"] = environment["TRAINYARD_TEST_LOG_LEVEL"] ?? "info"
        return environment
    }

    /// Starts `trainyard <arguments>` as a named service; its output goes to `<home>/<name>.log`.
    @discardableResult
    public func start(_ name: String, _ arguments: [String], environment extra: [String: String] = [:]) throws -> Process {
        let process = Process()
        process.executableURL = executable
        process.arguments = arguments
        process.environment = environment.merging(extra) { _, new in new }
        let log = home.appendingPathComponent("\(name).log")
        _ = FileManager.default.createFile(atPath: log.path, contents: nil)
        let handle = try FileHandle(forWritingTo: log)
        handle.seekToEndOfFile()
        process.standardOutput = handle
        process.standardError = handle
        try process.run()
        processes.withLock { $0[name] = process }
        return process
    }

    /// Runs `trainyard <arguments>` to completion (a CLI call); returns its exit status and output.
    public func run(_ arguments: [String], environment extra: [String: String] = [:]) async throws -> TestEnvironment.Completed {
        try await TestEnvironment.run(executable, arguments, environment: environment.merging(extra) { _, new in new })
    }

    /// The fleet's consumer groups are its own, so fleets of concurrent tests never rebalance each other.
    public var workerGroup: String { "\(topics.prefix)-workers" }
    public var aggregatorGroup: String { "\(topics.prefix)-aggregator" }

    public func startAggregator(_ name: String = "aggregator", httpPort: Int = 0, arguments: [String] = []) throws {
        try start(name, ["aggregator", "--group", aggregatorGroup, "--http-address", "127.0.0.1:\(httpPort)"] + arguments)
    }

    public func startWorker(_ name: String, concurrency: Int = 16, httpPort: Int = 0, arguments: [String] = []) throws {
        try start(
            name, ["worker", "--group", workerGroup, "--concurrency", String(concurrency), "--http-address", "127.0.0.1:\(httpPort)"] + arguments)
    }

    /// SIGTERM, then wait for a graceful exit (SIGKILL after `timeout`). Returns the exit status
    /// (nil when it had to be killed, or no such service runs).
    @discardableResult
    public func stop(_ name: String, timeout: Duration = .seconds(30)) async -> Int32? {
        guard let process = processes.withLock({ $0.removeValue(forKey: name) }) else { return nil }
        process.terminate()
        let deadline = ContinuousClock.now + timeout
        while process.isRunning, ContinuousClock.now < deadline { try? await Task.sleep(for: .milliseconds(50)) }
        let killed = process.isRunning
        if killed { kill(process.processIdentifier, SIGKILL) }
        process.waitUntilExit()
        return killed || process.terminationReason != .exit ? nil : process.terminationStatus
    }

    /// The exit status of a service that ended by itself; nil while it runs.
    public func exitStatus(_ name: String) -> Int32? {
        processes.withLock { $0[name].flatMap { $0.isRunning ? nil : $0.terminationStatus } }
    }

    /// True while the named service's process runs.
    public func isRunning(_ name: String) -> Bool {
        processes.withLock { $0[name]?.isRunning ?? false }
    }

    /// kill -9: no chance to commit, close or hand over.
    public func crash(_ name: String) {
        guard let process = processes.withLock({ $0.removeValue(forKey: name) }) else { return }
        kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
    }

    /// Stops every service still running.
    public func stopAll() async {
        for name in processes.withLock({ Array($0.keys) }) { await stop(name) }
    }

    /// Publishes submit commands straight to the requests topic; returns the job ids in order.
    public func submit(_ specs: [JobSpec]) async throws -> [JobID] {
        let producer = try KafkaProducer(configuration: KafkaProducerConfiguration(common: kafka), logger: TestEnvironment.logger("fleet-submit"))
        var ids: [JobID] = []
        for spec in specs {
            let command = SubmitCommand(spec: spec)
            try producer.enqueue(
                KafkaProducerMessage(topic: topics.requests, key: command.jobID.rawValue, value: try JobRequestCodec.encode(.submit(command))))
            ids.append(command.jobID)
        }
        try await producer.flush()
        await producer.close()
        return ids
    }

    /// Publishes a cancel command.
    public func cancel(_ jobID: JobID, reason: String = "test") async throws {
        let producer = try KafkaProducer(configuration: KafkaProducerConfiguration(common: kafka), logger: TestEnvironment.logger("fleet-cancel"))
        _ = try await producer.send(
            KafkaProducerMessage(
                topic: topics.requests, key: jobID.rawValue, value: try JobRequestCodec.encode(.cancel(CancelCommand(jobID: jobID, reason: reason)))))
        await producer.close()
    }

    /// The job records now in the store (empty before the aggregator created it).
    public func records(_ ids: [JobID]) throws -> [JobID: JobRecord] {
        guard FileManager.default.fileExists(atPath: databasePath) else { return [:] }
        do {
            let store = try JobStore(readingAt: databasePath)
            var records: [JobID: JobRecord] = [:]
            for id in ids { records[id] = try store.job(id) }
            return records
        } catch let error as SQLiteError where error.message.hasPrefix("no such table") || error.code == 26 {
            return [:]  // the aggregator created the file (SQLITE_NOTADB while empty) but not its schema yet
        }
    }

    /// Waits until every job is terminal in the store; returns their records.
    public func waitForTerminal(_ ids: [JobID], timeout: Duration = .seconds(240)) async throws -> [JobID: JobRecord] {
        var latest: [JobID: JobRecord] = [:]
        _ = try await eventually(timeout: timeout, every: .milliseconds(250)) {
            latest = (try? records(ids)) ?? latest
            return latest.count == ids.count && latest.values.allSatisfy { $0.state.isTerminal }
        }
        return latest
    }

    /// The last lines of a service's log, for failure messages.
    public func logTail(_ name: String, lines: Int = 30) -> String {
        let text = (try? String(contentsOf: home.appendingPathComponent("\(name).log"), encoding: .utf8)) ?? ""
        return text.split(separator: "\n").suffix(lines).joined(separator: "\n")
    }

    /// Runs `body` with a new fleet and always tears the fleet down afterwards.
    public static func with(name: String, partitions: Int = 4, brokers: String? = nil, _ body: (Fleet) async throws -> Void) async throws {
        let fleet = try await Fleet(name: name, partitions: partitions, brokers: brokers)
        do {
            try await body(fleet)
        } catch {
            await fleet.tearDown()
            throw error
        }
        await fleet.tearDown()
    }

    /// Stops everything and deletes the fleet's topics and files.
    public func tearDown() async {
        await stopAll()
        if let admin = try? KafkaAdmin(configuration: kafka, logger: TestEnvironment.logger("fleet-teardown")) {
            try? await admin.deleteTopics(topics.all)
        }
        // TRAINYARD_TEST_KEEP=1 keeps the logs, store and run directories for a post-mortem.
        if ProcessInfo.processInfo.environment["TRAINYARD_TEST_KEEP"] == nil { try? FileManager.default.removeItem(at: home) }
    }

    /// A loopback port nothing listens on right now.
    public static func freePort() throws -> Int {
        let descriptor = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(descriptor) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(descriptor, $0, length) == 0 && getsockname(descriptor, $0, &length) == 0
            }
        }
        guard bound else { throw TestEnvironment.Missing(description: "no free loopback port") }
        return Int(UInt16(bigEndian: address.sin_port))
    }

    /// GET http://127.0.0.1:PORT/PATH; returns (status, body).
    public static func get(port: Int, path: String) async throws -> (Int, String) {
        let (data, response) = try await URLSession.shared.data(from: URL(string: "http://127.0.0.1:\(port)\(path)")!)
        return ((response as? HTTPURLResponse)?.statusCode ?? 0, String(decoding: data, as: UTF8.self))
    }
}
