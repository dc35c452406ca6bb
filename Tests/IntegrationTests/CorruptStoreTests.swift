import Foundation
import Testing
import TrainyardStore
import TrainyardTesting

/// A store file that is not Trainyard's (issue #13, item 12): the aggregator process says which
/// file and exits 2, rather than trapping.
@Suite("An unusable store file")
struct CorruptStoreTests {
    enum Damage: String, CaseIterable, Sendable {
        case garbage, damagedHeader, foreignDatabase

        func write(to path: String) throws {
            switch self {
            case .garbage:
                try (Data("a grocery list, not a database\n".utf8) + Data(repeating: 0x42, count: 8192)).write(to: URL(fileURLWithPath: path))
            case .damagedHeader:
                try (Data("SQLite format 3\u{0}".utf8) + Data(repeating: 0xA5, count: 4096)).write(to: URL(fileURLWithPath: path))
            case .foreignDatabase:
                try SQLiteDatabase(path: path).execute("CREATE TABLE groceries (item TEXT NOT NULL)")
            }
        }
    }

    @Test("garbage, a damaged SQLite header or another program's database: exit 2 naming the file, no trap", arguments: Damage.allCases)
    func unusable(damage: Damage) async throws {
        try await Fleet.with(name: "corrupt-store-\(damage.rawValue)") { fleet in
            try FileManager.default.createDirectory(at: fleet.home, withIntermediateDirectories: true)
            try damage.write(to: fleet.databasePath)
            let result = try await fleet.run(["aggregator", "--group", fleet.aggregatorGroup, "--http-address", "127.0.0.1:0"])
            #expect(result.status == 2, "\(result)")
            #expect(result.errors.contains(fleet.databasePath), "\(result)")
        }
    }
}
