import Foundation
import Glibc

/// A local broker of one test's own (`ops/broker` in a fresh folder on a free port), so the test
/// can pause it (SIGSTOP, as a long GC pause or a network partition looks to clients) or, on a
/// `BrokerObjectStore`, kill and restart it, without disturbing the shared test broker other
/// suites use at the same time.
public struct PrivateBroker: Sendable {
    /// `127.0.0.1:PORT`
    public let address: String
    private let port: Int
    private let directory: URL
    /// `ops/broker`'s environment: the storage engine and its settings.
    private let environment: [String: String]

    /// Starts the broker (in memory, or on `storage`) and returns once it answers a metadata request.
    public static func start(storage: BrokerObjectStore? = nil) async throws -> PrivateBroker {
        var environment = ProcessInfo.processInfo.environment
        if let storage { environment.merge(storage.brokerEnvironment) { _, new in new } }
        let port = try Fleet.freePort()
        let broker = PrivateBroker(
            address: "127.0.0.1:\(port)", port: port, directory: try TestEnvironment.temporaryDirectory("broker"), environment: environment)
        try await broker.launch()
        return broker
    }

    /// Runs `body` with a broker started for it, and stops the broker afterwards (also when `body` throws).
    public static func with(storage: BrokerObjectStore? = nil, _ body: (PrivateBroker) async throws -> Void) async throws {
        let broker = try await start(storage: storage)
        do { try await body(broker) } catch {
            await broker.stop()
            throw error
        }
        await broker.stop()
    }

    private func launch() async throws {
        let started = try await TestEnvironment.run(
            TestEnvironment.repositoryFile("ops/broker"), ["--dir", directory.path, "--port", String(port), "start"], environment: environment)
        guard started.status == 0 else { throw TestEnvironment.Missing(description: "ops/broker start failed: \(started)") }
    }

    /// The running broker's process id (from its pid file; it changes on `restart`).
    private var pid: pid_t? {
        (try? String(contentsOf: directory.appendingPathComponent("tansu.pid"), encoding: .utf8))
            .flatMap { pid_t($0.trimmingCharacters(in: .whitespacesAndNewlines)) }
    }

    /// Kills the broker with SIGKILL (nothing flushed on the way out, as a crashed host) and
    /// starts it again on the same port and storage. Only a broker on a `BrokerObjectStore`
    /// keeps its topics, records and offsets across this.
    public func restart() async throws {
        if let pid {
            kill(pid, SIGKILL)
            // Gone, or a zombie: the process has no socket open any more.
            let gone = try await eventually(timeout: .seconds(120), every: .milliseconds(20)) {
                guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8) else { return true }
                return stat.split(separator: ")").last?.split(separator: " ").first == "Z"
            }
            guard gone else { throw TestEnvironment.Missing(description: "the broker (pid \(pid)) outlived SIGKILL for 120 s") }
        }
        try await launch()
    }

    /// Freezes the broker process (connections stay open, nothing is answered) and returns once
    /// the kernel shows it stopped: `kill` only queues the signal.
    public func pause() async throws {
        guard let pid else { throw TestEnvironment.Missing(description: "the broker has no pid file to pause") }
        kill(pid, SIGSTOP)
        let stopped = try await eventually(timeout: .seconds(120), every: .milliseconds(10)) {
            let stat = (try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8)) ?? ""
            return stat.split(separator: ")").last?.split(separator: " ").first == "T"
        }
        guard stopped else { throw TestEnvironment.Missing(description: "the broker (pid \(pid)) did not stop on SIGSTOP") }
    }

    /// Lets a paused broker go on.
    public func resume() { pid.map { _ = kill($0, SIGCONT) } }

    /// The last lines of the broker's log, for failure messages.
    public func logTail(lines: Int = 20) -> String {
        let text = (try? String(contentsOf: directory.appendingPathComponent("tansu.log"), encoding: .utf8)) ?? ""
        return text.split(separator: "\n").suffix(lines).joined(separator: "\n")
    }

    /// Stops the broker (resuming it first) and removes its folder.
    public func stop() async {
        resume()
        _ = try? await TestEnvironment.run(TestEnvironment.repositoryFile("ops/broker"), ["--dir", directory.path, "stop"])
        try? FileManager.default.removeItem(at: directory)
    }
}

/// S3-compatible storage for a `PrivateBroker` that must keep its data across a restart: the AWS
/// emulator's S3 with one bucket (`ops/test-peers/s3_store.py`), started for one test.
public final class BrokerObjectStore: Sendable {
    /// `http://127.0.0.1:PORT`
    public let endpoint: String
    private let bucket: String
    private let process: Process
    private let stdin: Pipe

    private struct Announcement: Decodable {
        var endpoint: String
        var bucket: String
    }

    /// Starts the store and returns once its bucket exists; its log goes to `directory`.
    public init(directory: URL) throws {
        stdin = Pipe()
        let log = directory.appendingPathComponent("s3-store.log")
        let started = try TestPython.startPeer("s3_store.py", arguments: [], log: log, stdin: stdin)
        process = started.process
        guard let announcement = try? JSONDecoder().decode(Announcement.self, from: Data(started.firstLine.utf8)) else {
            TestPython.stop(process)
            throw TestEnvironment.Missing(description: "the S3 store did not start; see \(log.path)")
        }
        endpoint = announcement.endpoint
        bucket = announcement.bucket
    }

    /// Runs `body` with a store started for it, and stops the store afterwards.
    public static func with(_ body: (BrokerObjectStore) async throws -> Void) async throws {
        let directory = try TestEnvironment.temporaryDirectory("s3-store")
        let store = try BrokerObjectStore(directory: directory)
        defer {
            store.stop()
            try? FileManager.default.removeItem(at: directory)
        }
        try await body(store)
    }

    /// `ops/broker`'s storage engine and the object store's settings (fake credentials: the
    /// emulator does not check them). Tansu on S3 answers its first metadata request only after
    /// a few round trips to the store, which take seconds on a loaded machine: `ops/broker`'s
    /// 10 s start bound is raised to 120 s.
    var brokerEnvironment: [String: String] {
        [
            "TRAINYARD_BROKER_TIMEOUT": "120",
            "TRAINYARD_BROKER_STORAGE": "s3://\(bucket)/", "AWS_ENDPOINT": endpoint, "AWS_ALLOW_HTTP": "true", "AWS_ACCESS_KEY_ID": "test",
            "AWS_SECRET_ACCESS_KEY": "test", "AWS_DEFAULT_REGION": "us-east-1",
        ]
    }

    /// Stops the store (SIGKILL: a test's children may have SIGTERM blocked; see `TestPython.stop`).
    public func stop() { TestPython.stop(process) }

    deinit { if process.isRunning { kill(process.processIdentifier, SIGKILL) } }
}
