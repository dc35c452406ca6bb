import AsyncHTTPClient
import Logging
import NIOCore
import Synchronization
import Testing
import TrainyardTesting

@testable import KubernetesBackend
@testable import TrainyardKubernetes

/// A scripted API server for one informer: counts lists, records each watch request and keeps
/// the last watch open until the test closes it or sends an event.
final class ScriptedWatchServer: Sendable {
    struct Watch: Equatable {
        var resourceVersion: String
        var timeoutSeconds: Int
    }

    private struct State {
        var lists = 0
        var watches: [Watch] = []
        var open: AsyncStream<ByteBuffer>.Continuation?
    }

    private let state = Mutex(State())

    var lists: Int { state.withLock { $0.lists } }
    var watches: [Watch] { state.withLock { $0.watches } }

    func list() -> KubernetesList<KubernetesJob> {
        let version = state.withLock { state -> Int in
            state.lists += 1
            return state.lists
        }
        return KubernetesList(metadata: KubernetesListMeta(resourceVersion: "list-\(version)"), items: [])
    }

    func watch(from version: String, timeoutSeconds: Int) -> KubernetesWatchStream<KubernetesJob> {
        let (stream, continuation) = AsyncStream.makeStream(of: ByteBuffer.self)
        state.withLock { state in
            state.watches.append(Watch(resourceVersion: version, timeoutSeconds: timeoutSeconds))
            state.open = continuation
        }
        return KubernetesWatchStream(body: .stream(stream))
    }

    /// Ends the open watch as the server does at its `timeoutSeconds`.
    func closeWatch() { state.withLock { $0.open }?.finish() }

    /// Sends one raw watch event line on the open watch.
    func send(_ line: String) { state.withLock { $0.open }?.yield(ByteBuffer(string: line + "\n")) }

    func informer(clock: ManualClock, relistInterval: Duration, watchTimeoutSeconds: Int) -> KubernetesInformer<KubernetesJob, ManualClock> {
        KubernetesInformer(
            kind: "jobs", relistInterval: relistInterval, watchTimeoutSeconds: watchTimeoutSeconds,
            list: { () async throws(KubernetesError) in self.list() },
            watch: { (version, seconds) async throws(KubernetesError) in self.watch(from: version, timeoutSeconds: seconds) },
            replaceAll: { _ in }, upsert: { _ in }, remove: { _ in }, resourceVersion: { $0.metadata.resourceVersion },
            logger: Logger(label: "informer-tests"), onRelist: {}, clock: clock)
    }
}

/// The informer's timing on a manual clock: when it relists, what watch timeout it asks for,
/// and how it handles a silent watch; no test waits on wall time for the informer's decisions.
@Suite("Kubernetes informer on a manual clock")
struct KubernetesInformerTests {
    @Test("a watch the server ends before the relist is due resumes for the rest of the interval; the next end relists")
    func relistWhenDue() async throws {
        let (server, clock) = (ScriptedWatchServer(), ManualClock())
        let running = Task { await server.informer(clock: clock, relistInterval: .seconds(300), watchTimeoutSeconds: 240).run() }
        defer { running.cancel() }
        #expect(try await eventually(timeout: .seconds(120)) { server.watches.count == 1 })
        #expect(server.lists == 1 && server.watches == [.init(resourceVersion: "list-1", timeoutSeconds: 240)])

        clock.advance(by: .seconds(240))
        server.closeWatch()
        #expect(try await eventually(timeout: .seconds(120)) { server.watches.count == 2 })
        #expect(server.lists == 1, "60 s before the relist is due: no list")
        #expect(server.watches.last == .init(resourceVersion: "list-1", timeoutSeconds: 60))

        clock.advance(by: .seconds(60))
        server.closeWatch()
        #expect(try await eventually(timeout: .seconds(120)) { server.watches.count == 3 })
        #expect(server.lists == 2 && server.watches.last == .init(resourceVersion: "list-2", timeoutSeconds: 240))
    }

    @Test("a watch silent for 30 s past its timeout counts as dropped: after a backoff it resumes from the same version")
    func silentWatch() async throws {
        let (server, clock) = (ScriptedWatchServer(), ManualClock())
        let running = Task { await server.informer(clock: clock, relistInterval: .seconds(300), watchTimeoutSeconds: 20).run() }
        defer { running.cancel() }
        // The silence deadline is a sleep on the clock.
        #expect(try await eventually(timeout: .seconds(120)) { server.watches.count == 1 && clock.sleeperCount == 1 })
        clock.advance(by: .seconds(49))
        #expect(clock.sleeperCount == 1 && server.watches.count == 1, "still within timeout + 30 s")
        clock.advance(by: .seconds(1))
        // Now the backoff (at most 0.5 s after one failure) sleeps on the clock.
        #expect(try await eventually(timeout: .seconds(120)) { clock.sleeperCount == 1 })
        #expect(server.watches.count == 1, "no new watch before the backoff ends")
        clock.advance(by: .seconds(1))
        #expect(try await eventually(timeout: .seconds(120)) { server.watches.count == 2 })
        #expect(server.lists == 1 && server.watches.last == .init(resourceVersion: "list-1", timeoutSeconds: 20))
    }

    @Test("410 Gone on a watch relists at once, without waiting for the interval")
    func expiredVersion() async throws {
        let (server, clock) = (ScriptedWatchServer(), ManualClock())
        let running = Task { await server.informer(clock: clock, relistInterval: .seconds(300), watchTimeoutSeconds: 240).run() }
        defer { running.cancel() }
        #expect(try await eventually(timeout: .seconds(120)) { server.watches.count == 1 })
        // A later version than the list's, so the expiry is not "at once from a fresh list".
        server.send(#"{"type":"BOOKMARK","object":{"metadata":{"resourceVersion":"bookmark-1"}}}"#)
        server.send(#"{"type":"ERROR","object":{"kind":"Status","status":"Failure","reason":"Expired","code":410}}"#)
        #expect(try await eventually(timeout: .seconds(120)) { server.watches.count == 2 })
        #expect(server.lists == 2 && server.watches.last == .init(resourceVersion: "list-2", timeoutSeconds: 240))
    }
}
