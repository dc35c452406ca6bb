import Foundation
import Glibc

/// A local broker of one test's own (`ops/broker` in a fresh folder on a free port), so the test
/// can pause it (SIGSTOP, as a long GC pause or a network partition looks to clients) without
/// disturbing the shared test broker other suites use at the same time.
public struct PrivateBroker: Sendable {
    /// `127.0.0.1:PORT`
    public let address: String
    private let directory: URL
    private let pid: pid_t

    /// Starts the broker and returns once it answers a metadata request.
    public static func start() async throws -> PrivateBroker {
        let directory = try TestEnvironment.temporaryDirectory("broker")
        let port = try Fleet.freePort()
        let started = try await TestEnvironment.run(
            TestEnvironment.repositoryFile("ops/broker"), ["--dir", directory.path, "--port", String(port), "start"])
        guard started.status == 0 else { throw TestEnvironment.Missing(description: "ops/broker start failed: \(started)") }
        let pidText = try String(contentsOf: directory.appendingPathComponent("tansu.pid"), encoding: .utf8)
        guard let pid = pid_t(pidText.trimmingCharacters(in: .whitespacesAndNewlines)) else {
            throw TestEnvironment.Missing(description: "no broker pid in \(directory.path)")
        }
        return PrivateBroker(address: "127.0.0.1:\(port)", directory: directory, pid: pid)
    }

    /// Runs `body` with a broker started for it, and stops the broker afterwards (also when `body` throws).
    public static func with(_ body: (PrivateBroker) async throws -> Void) async throws {
        let broker = try await start()
        do { try await body(broker) } catch {
            await broker.stop()
            throw error
        }
        await broker.stop()
    }

    /// Freezes the broker process: connections stay open, nothing is answered.
    public func pause() { kill(pid, SIGSTOP) }

    /// Lets a paused broker go on.
    public func resume() { kill(pid, SIGCONT) }

    /// Stops the broker (resuming it first) and removes its folder.
    public func stop() async {
        resume()
        _ = try? await TestEnvironment.run(TestEnvironment.repositoryFile("ops/broker"), ["--dir", directory.path, "stop"])
        try? FileManager.default.removeItem(at: directory)
    }
}
