import Foundation
import Glibc
import Testing
import TrainyardStore

@Suite("Store lock")
struct StoreLockTests {
    @Test("one holder at a time: a second open of the lock file is refused and told the holder's pid; released, it is free again")
    func oneHolder() throws {
        let store = FileManager.default.temporaryDirectory.appendingPathComponent("lock-test-\(UUID().uuidString).db").path
        defer { try? FileManager.default.removeItem(atPath: StoreLock.path(forStore: store)) }
        var first: StoreLock? = try Self.acquired(store)
        #expect(first != nil)
        guard case .held(let holder) = try StoreLock.acquire(store: store) else {
            Issue.record("a second lock was granted while the first is held")
            return
        }
        #expect(holder == getpid())
        first = nil
        #expect(try Self.acquired(store) != nil, "the lock was not free once its holder released it")
    }

    @Test("a lock file that cannot be created is an error naming it, not a lock held by someone")
    func unusablePath() throws {
        #expect(throws: StoreLockError.self) { try StoreLock.acquire(store: "/nonexistent-\(UUID().uuidString)/trainyard.db") }
    }

    private static func acquired(_ store: String) throws -> StoreLock? {
        if case .acquired(let lock) = try StoreLock.acquire(store: store) { return lock }
        return nil
    }
}
