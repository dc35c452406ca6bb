import CSQLite
import Foundation
import Synchronization

/// An SQLite error, with SQLite's own result code name (e.g. `SQLITE_BUSY`).
public struct SQLiteError: Error, Sendable, CustomStringConvertible {
    public var code: Int32
    public var message: String

    public var codeName: String { String(cString: sqlite3_errstr(code)) }
    public var description: String { "SQLite error \(code) (\(codeName)): \(message)" }
}

/// One SQLite connection, reachable only inside `withConnection { }` behind a lock.
///
/// `@unchecked Sendable`: the connection and its statement cache are only used while `lock` is held.
public final class SQLiteDatabase: @unchecked Sendable {
    private let connection: OpaquePointer
    private let lock = NSLock()
    /// Prepared statements by SQL text; guarded by `lock`.
    private var statements: [String: PreparedStatement] = [:]
    /// Prepared `SQLiteStatement`s by number; guarded by `lock`.
    private var numbered: [PreparedStatement?] = []

    /// Opens (creating if needed) the database at `path` in WAL mode.
    public init(path: String, readOnly: Bool = false) throws {
        var handle: OpaquePointer?
        let flags = readOnly ? SQLITE_OPEN_READONLY : (SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE)
        let result = sqlite3_open_v2(path, &handle, flags | SQLITE_OPEN_NOMUTEX, nil)
        guard result == SQLITE_OK, let handle else {
            let message = handle.map { String(cString: sqlite3_errmsg($0)) } ?? "cannot open"
            sqlite3_close(handle)
            throw SQLiteError(code: result, message: "\(path): \(message)")
        }
        connection = handle
        sqlite3_busy_timeout(handle, 10_000)
        if !readOnly {
            try execute("PRAGMA journal_mode = WAL")
            try execute("PRAGMA synchronous = NORMAL")
            // The writer folds every consumed batch: its working set (the jobs of recent batches,
            // the indexes' right edges) stays in SQLite's cache instead of being read again
            // through the kernel, and the WAL is copied back in larger, rarer checkpoints.
            try execute("PRAGMA cache_size = -65536")
            try execute("PRAGMA wal_autocheckpoint = 8192")
            try execute("PRAGMA temp_store = MEMORY")
        }
        try execute("PRAGMA foreign_keys = ON")
    }

    deinit {
        statements.values.forEach { sqlite3_finalize($0.handle) }
        for case let prepared? in numbered { sqlite3_finalize(prepared.handle) }
        sqlite3_close_v2(connection)
    }

    /// Runs `body` with exclusive use of the connection, outside any explicit transaction.
    public func read<Result>(_ body: (inout SQLiteConnection) throws -> Result) throws -> Result {
        try lock.withLock {
            var connection = SQLiteConnection(handle: self.connection, statements: statements, numbered: numbered)
            defer { (statements, numbered) = (connection.statements, connection.numbered) }
            return try body(&connection)
        }
    }

    /// Runs `body` in one transaction (BEGIN IMMEDIATE … COMMIT, rolled back if it throws).
    public func write<Result>(_ body: (inout SQLiteConnection) throws -> Result) throws -> Result {
        try lock.withLock {
            var connection = SQLiteConnection(handle: self.connection, statements: statements, numbered: numbered)
            defer { (statements, numbered) = (connection.statements, connection.numbered) }
            try connection.execute("BEGIN IMMEDIATE")
            do {
                let result = try body(&connection)
                try connection.execute("COMMIT")
                return result
            } catch {
                try? connection.execute("ROLLBACK")
                throw error
            }
        }
    }

    /// Runs one statement without results.
    public func execute(_ sql: String) throws {
        try read { connection in try connection.execute(sql) }
    }
}

/// A value bound to or read from a statement.
public enum SQLiteValue: Sendable, Equatable {
    case null
    case integer(Int64)
    case real(Double)
    case text(String)

    public var int: Int64? { if case .integer(let value) = self { value } else { nil } }
    public var double: Double? {
        switch self {
        case .real(let value): value
        case .integer(let value): Double(value)
        default: nil
        }
    }
    public var string: String? { if case .text(let value) = self { value } else { nil } }
}

/// A statement's result columns by name.
public final class SQLiteColumns: Sendable {
    let indexes: [String: Int]

    init(_ names: [String]) {
        indexes = Dictionary(names.enumerated().map { ($1, $0) }, uniquingKeysWith: { first, _ in first })
    }

    /// The position of the column called `name`; throws when the statement has none.
    public func position(of name: String) throws -> Int {
        guard let position = indexes[name] else { throw SQLiteError(code: 1, message: "the statement has no result column \(name)") }
        return position
    }
}

/// One result row: values by column name (`row["state"]`, as the statement names them) or position.
public struct SQLiteRow: Sendable {
    let columns: SQLiteColumns
    /// The values in the statement's column order.
    public let values: [SQLiteValue]

    /// The value of the column called `name`; `.null` when the statement has no such column.
    public subscript(_ name: String) -> SQLiteValue {
        columns.indexes[name].map { values[$0] } ?? .null
    }

    public subscript(_ position: Int) -> SQLiteValue { values[position] }
}

/// SQL text fixed when the program is written (a `static let`), prepared once per connection and
/// found again by its number rather than by hashing its text: for statements run per message.
public final class SQLiteStatement: Sendable {
    private static let count = Mutex(0)

    /// This statement's place in each connection's cache.
    let number: Int
    let sql: String

    public init(_ sql: String) {
        self.sql = sql
        number = Self.count.withLock { count in
            defer { count += 1 }
            return count
        }
    }
}

/// A prepared statement and the names of its result columns.
struct PreparedStatement {
    let handle: OpaquePointer
    let columns: SQLiteColumns
}

/// The connection as lent by `SQLiteDatabase`; caches prepared statements by SQL text.
public struct SQLiteConnection {
    let handle: OpaquePointer
    var statements: [String: PreparedStatement]
    var numbered: [PreparedStatement?]

    /// Runs SQL (possibly several statements) without parameters or results.
    public func execute(_ sql: String) throws {
        var message: UnsafeMutablePointer<CChar>?
        let result = sqlite3_exec(handle, sql, nil, nil, &message)
        guard result == SQLITE_OK else {
            let text = message.map { String(cString: $0) } ?? ""
            sqlite3_free(message)
            throw SQLiteError(code: result, message: text)
        }
    }

    /// Runs a statement with parameters; returns its rows.
    @discardableResult
    public mutating func query(_ sql: String, _ parameters: [SQLiteValue] = []) throws -> [SQLiteRow] {
        try run(try prepared(sql), parameters)
    }

    /// Runs a fixed statement with parameters; returns its rows.
    @discardableResult
    public mutating func query(_ statement: SQLiteStatement, _ parameters: [SQLiteValue] = []) throws -> [SQLiteRow] {
        try run(try prepared(statement), parameters)
    }

    /// The result columns of a fixed statement (prepared now if it is not yet), to find their
    /// positions by name once rather than per row.
    public mutating func columns(of statement: SQLiteStatement) throws -> SQLiteColumns {
        try prepared(statement).columns
    }

    private mutating func prepared(_ statement: SQLiteStatement) throws -> PreparedStatement {
        if statement.number < numbered.count, let prepared = numbered[statement.number] { return prepared }
        let prepared = try prepare(statement.sql)
        if statement.number >= numbered.count { numbered += Array(repeating: nil, count: statement.number + 1 - numbered.count) }
        numbered[statement.number] = prepared
        return prepared
    }

    private func run(_ prepared: PreparedStatement, _ parameters: [SQLiteValue]) throws -> [SQLiteRow] {
        let statement = prepared.handle
        defer {
            sqlite3_reset(statement)
            sqlite3_clear_bindings(statement)
        }
        for (index, parameter) in parameters.enumerated() {
            let position = Int32(index + 1)
            let result: Int32
            switch parameter {
            case .null: result = sqlite3_bind_null(statement, position)
            case .integer(let value): result = sqlite3_bind_int64(statement, position, value)
            case .real(let value): result = sqlite3_bind_double(statement, position, value)
            case .text(let value):
                // The bytes as they are (no C-string copy); SQLite copies them (SQLITE_TRANSIENT).
                var value = value
                result = value.withUTF8 { text in
                    guard let bytes = text.baseAddress, !text.isEmpty else {
                        return sqlite3_bind_text(statement, position, "", 0, csqlite_transient())
                    }
                    return UnsafeRawPointer(bytes).withMemoryRebound(to: CChar.self, capacity: text.count) {
                        sqlite3_bind_text(statement, position, $0, Int32(text.count), csqlite_transient())
                    }
                }
            }
            guard result == SQLITE_OK else { throw error(result) }
        }
        var rows: [SQLiteRow] = []
        let count = sqlite3_column_count(statement)
        while true {
            let result = sqlite3_step(statement)
            if result == SQLITE_DONE { return rows }
            guard result == SQLITE_ROW else { throw error(result) }
            rows.append(
                SQLiteRow(
                    columns: prepared.columns,
                    values: (0..<count).map { column in
                        switch sqlite3_column_type(statement, column) {
                        case SQLITE_INTEGER: .integer(sqlite3_column_int64(statement, column))
                        case SQLITE_FLOAT: .real(sqlite3_column_double(statement, column))
                        case SQLITE_NULL: .null
                        default:
                            .text(
                                String(
                                    decoding: UnsafeRawBufferPointer(
                                        start: sqlite3_column_text(statement, column), count: Int(sqlite3_column_bytes(statement, column))),
                                    as: UTF8.self))
                        }
                    }))
        }
    }

    private mutating func prepared(_ sql: String) throws -> PreparedStatement {
        if let statement = statements[sql] { return statement }
        let statement = try prepare(sql)
        statements[sql] = statement
        return statement
    }

    private func prepare(_ sql: String) throws -> PreparedStatement {
        var handle: OpaquePointer?
        let result = sqlite3_prepare_v3(self.handle, sql, -1, UInt32(SQLITE_PREPARE_PERSISTENT), &handle, nil)
        guard result == SQLITE_OK, let handle else { throw error(result) }
        let names = (0..<sqlite3_column_count(handle)).map { String(cString: sqlite3_column_name(handle, $0)) }
        return PreparedStatement(handle: handle, columns: SQLiteColumns(names))
    }

    private func error(_ code: Int32) -> SQLiteError {
        SQLiteError(code: code, message: String(cString: sqlite3_errmsg(handle)))
    }
}
