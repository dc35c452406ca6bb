import Foundation
import Logging
import Synchronization
import TrainyardKubernetes

/// Keeps a cache in step with one kind of object in one namespace: list, then watch from the
/// list's resource version with bookmarks; on `410 Gone` relist; on a dropped connection resume
/// from the last version seen after a backoff with jitter; relist in full every
/// `relistInterval` (each watch asks the server to end by then) to reconcile anything a watch
/// could have missed. All waiting (relist due, backoff, a silent watch) is on `clock`.
struct KubernetesInformer<Object: Codable & Sendable, C: Clock<Duration>>: Sendable {
    /// Names the informer in logs (`jobs`, `pods`).
    let kind: String
    let relistInterval: Duration
    let watchTimeoutSeconds: Int
    let list: @Sendable () async throws(KubernetesError) -> KubernetesList<Object>
    let watch: @Sendable (_ resourceVersion: String, _ timeoutSeconds: Int) async throws(KubernetesError) -> KubernetesWatchStream<Object>
    let replaceAll: @Sendable ([Object]) -> Void
    let upsert: @Sendable (Object) -> Void
    let remove: @Sendable (Object) -> Void
    let resourceVersion: @Sendable (Object) -> String?
    let logger: Logger
    /// Called after each successful full list (tests and metrics count them).
    let onRelist: @Sendable () -> Void
    let clock: C

    /// Runs until the task is cancelled.
    func run() async {
        let cursor = Cursor()
        var lastList: C.Instant?
        var failures = 0
        while !Task.isCancelled {
            do throws(KubernetesError) {
                let listedNow = cursor.value == nil || lastList.map({ $0.duration(to: clock.now) >= relistInterval }) ?? true
                if listedNow {
                    let listed = try await list()
                    replaceAll(listed.items)
                    cursor.value = listed.metadata.resourceVersion
                    lastList = clock.now
                    onRelist()
                }
                guard let from = cursor.value else { throw KubernetesError(.transient, "the \(kind) list had no resourceVersion") }
                // The server ends the watch when the next relist is due (or after watchTimeoutSeconds).
                let untilRelist = lastList.map { relistInterval - $0.duration(to: clock.now) } ?? relistInterval
                let timeout = max(1, min(watchTimeoutSeconds, Int(untilRelist.components.seconds)))
                if try await consume(try await watch(from, timeout), timeoutSeconds: timeout, cursor: cursor) {
                    // Expired right after a fresh list: something is wrong; back off before relisting.
                    guard cursor.value != from || !listedNow else {
                        throw KubernetesError(.gone, "the \(kind) watch expired at once from a fresh list (\(from))")
                    }
                    logger.info("\(kind) watch expired (410), relisting")
                    cursor.value = nil
                }
                failures = 0
            } catch {
                if Task.isCancelled { return }
                if error.kind == .gone { cursor.value = nil }
                failures += 1
                let ceiling = min(30, 0.25 * pow(2, Double(min(failures, 8))))
                logger.warning("\(kind) watch failed, retrying: \(error)", metadata: ["failures": "\(failures)"])
                try? await clock.sleep(for: .seconds(Double.random(in: ceiling / 2...ceiling)))
            }
        }
    }

    /// Applies a stream's events until it ends; true when the server said the version expired.
    /// A stream silent past the server's own timeout is treated as a dropped connection.
    private func consume(_ stream: KubernetesWatchStream<Object>, timeoutSeconds: Int, cursor: Cursor) async throws(KubernetesError) -> Bool {
        let deadline = Duration.seconds(timeoutSeconds + 30)
        let outcome = await withTaskGroup(of: Result<Bool, KubernetesError>?.self) { group in
            group.addTask { [self] in
                do {
                    for try await event in stream {
                        if let expired = apply(event, cursor: cursor) { return .success(expired) }
                    }
                    return .success(false)
                } catch let error as KubernetesError {
                    return .failure(error)
                } catch {
                    return .failure(KubernetesError(.transient, "\(kind) watch: \(error)"))
                }
            }
            group.addTask {
                try? await clock.sleep(for: deadline)
                return nil
            }
            let first = await group.next()!
            group.cancelAll()
            return first ?? .failure(KubernetesError(.transient, "\(kind) watch silent for \(deadline)"))
        }
        return try outcome.get()
    }

    /// Applies one event; returns whether the stream ended (true: the version expired).
    private func apply(_ event: KubernetesWatchEvent<Object>, cursor: Cursor) -> Bool? {
        switch event {
        case .added(let object), .modified(let object):
            upsert(object)
            cursor.value = resourceVersion(object) ?? cursor.value
        case .deleted(let object):
            remove(object)
            cursor.value = resourceVersion(object) ?? cursor.value
        case .bookmark(let version):
            cursor.value = version ?? cursor.value
        case .error(let status) where status.code == 410:
            return true
        case .error(let status):
            logger.warning("\(kind) watch ended by the server: \(status.message ?? status.reason ?? "unknown error")")
            return false
        }
        return nil
    }

    /// The last resource version applied, shared with the task that reads the stream.
    final class Cursor: Sendable {
        private let storage = Mutex<String?>(nil)

        var value: String? {
            get { storage.withLock { $0 } }
            set { storage.withLock { $0 = newValue } }
        }
    }
}
