import Foundation

/// A JSON value as `WireJSONTree` reads it: objects keep their members in document order.
package indirect enum WireJSONNode: Equatable {
    case object([(key: String, value: WireJSONNode)])
    case array([WireJSONNode])
    case string(String)
    /// A number's text, as written.
    case number(String)
    case bool(Bool)
    case null

    package static func == (lhs: WireJSONNode, rhs: WireJSONNode) -> Bool {
        switch (lhs, rhs) {
        case (.object(let left), .object(let right)): left.elementsEqual(right) { $0.key == $1.key && $0.value == $1.value }
        case (.array(let left), .array(let right)): left == right
        case (.string(let left), .string(let right)), (.number(let left), .number(let right)): left == right
        case (.bool(let left), .bool(let right)): left == right
        case (.null, .null): true
        default: false
        }
    }

    /// The member named `key` of an object.
    package subscript(key: String) -> WireJSONNode? {
        guard case .object(let members) = self else { return nil }
        return members.first { $0.key == key }?.value
    }

    package var string: String? { if case .string(let text) = self { text } else { nil } }
    /// An integer written without fraction or exponent (as `JSONDecoder` reads `Int`).
    package var int: Int? { if case .number(let text) = self { Int(text) } else { nil } }
    /// A finite number, correctly rounded (as `JSONDecoder` reads `Double`).
    package var double: Double? { if case .number(let text) = self, let value = Double(text), value.isFinite { value } else { nil } }
    package var bool: Bool? { if case .bool(let value) = self { value } else { nil } }
    package var isNull: Bool { if case .null = self { true } else { false } }
}

/// Reads and writes whole JSON documents in a single pass, for the codecs on the ingest path
/// whose messages nest (submit commands and their specs).
///
/// Like `WireJSONReader` it declines (nil) what it does not handle: escapes, control or
/// non-ASCII bytes in strings, duplicate keys, nesting deeper than `maxDepth`. Writing follows
/// `WireFormat.encoder()` byte for byte (keys sorted, slashes unescaped) or declines.
package enum WireJSONTree {
    package static let maxDepth = 32

    package static func parse(_ data: Data) -> WireJSONNode? {
        data.withUnsafeBytes { raw in
            var parser = Parser(bytes: raw.bindMemory(to: UInt8.self))
            guard let node = parser.value(depth: 0) else { return nil }
            parser.skipSpace()
            return parser.index == parser.bytes.count ? node : nil
        }
    }

    /// The document as `WireFormat.encoder()` writes it, or nil when a value cannot be written
    /// identically (see `WireJSONWriter`).
    package static func write(_ node: WireJSONNode) -> Data? {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(512)
        guard write(node, into: &bytes) else { return nil }
        return Data(bytes)
    }

    private static func write(_ node: WireJSONNode, into bytes: inout [UInt8]) -> Bool {
        switch node {
        case .object(let members):
            bytes.append(UInt8(ascii: "{"))
            for (index, member) in members.sorted(by: { $0.key < $1.key }).enumerated() {
                if index > 0 { bytes.append(UInt8(ascii: ",")) }
                guard WireJSONWriter.appendString(member.key, to: &bytes) else { return false }
                bytes.append(UInt8(ascii: ":"))
                guard write(member.value, into: &bytes) else { return false }
            }
            bytes.append(UInt8(ascii: "}"))
        case .array(let elements):
            bytes.append(UInt8(ascii: "["))
            for (index, element) in elements.enumerated() {
                if index > 0 { bytes.append(UInt8(ascii: ",")) }
                guard write(element, into: &bytes) else { return false }
            }
            bytes.append(UInt8(ascii: "]"))
        case .string(let text): return WireJSONWriter.appendString(text, to: &bytes)
        case .number(let text): bytes.append(contentsOf: text.utf8)
        case .bool(let value): bytes.append(contentsOf: (value ? "true" : "false").utf8)
        case .null: bytes.append(contentsOf: "null".utf8)
        }
        return true
    }

    private struct Parser {
        let bytes: UnsafeBufferPointer<UInt8>
        var index = 0

        mutating func skipSpace() {
            while index < bytes.count, bytes[index] == 0x20 || bytes[index] == 0x0A || bytes[index] == 0x0D || bytes[index] == 0x09 {
                index += 1
            }
        }

        mutating func value(depth: Int) -> WireJSONNode? {
            skipSpace()
            guard index < bytes.count, depth <= WireJSONTree.maxDepth else { return nil }
            switch bytes[index] {
            case UInt8(ascii: "{"): return object(depth: depth)
            case UInt8(ascii: "["): return array(depth: depth)
            case UInt8(ascii: "\""): return string().map(WireJSONNode.string)
            case UInt8(ascii: "t"): return literal("true") ? .bool(true) : nil
            case UInt8(ascii: "f"): return literal("false") ? .bool(false) : nil
            case UInt8(ascii: "n"): return literal("null") ? .null : nil
            default: return number().map(WireJSONNode.number)
            }
        }

        mutating func object(depth: Int) -> WireJSONNode? {
            index += 1
            var members: [(key: String, value: WireJSONNode)] = []
            skipSpace()
            if index < bytes.count, bytes[index] == UInt8(ascii: "}") {
                index += 1
                return .object(members)
            }
            while true {
                skipSpace()
                guard let key = string(), !members.contains(where: { $0.key == key }) else { return nil }
                skipSpace()
                guard index < bytes.count, bytes[index] == UInt8(ascii: ":") else { return nil }
                index += 1
                guard let member = value(depth: depth + 1) else { return nil }
                members.append((key, member))
                skipSpace()
                guard index < bytes.count else { return nil }
                index += 1
                switch bytes[index - 1] {
                case UInt8(ascii: ","): continue
                case UInt8(ascii: "}"): return .object(members)
                default: return nil
                }
            }
        }

        mutating func array(depth: Int) -> WireJSONNode? {
            index += 1
            var elements: [WireJSONNode] = []
            skipSpace()
            if index < bytes.count, bytes[index] == UInt8(ascii: "]") {
                index += 1
                return .array(elements)
            }
            while true {
                guard let element = value(depth: depth + 1) else { return nil }
                elements.append(element)
                skipSpace()
                guard index < bytes.count else { return nil }
                index += 1
                switch bytes[index - 1] {
                case UInt8(ascii: ","): continue
                case UInt8(ascii: "]"): return .array(elements)
                default: return nil
                }
            }
        }

        mutating func string() -> String? { WireJSONReader.plainString(bytes, at: &index) }

        mutating func literal(_ word: StaticString) -> Bool {
            let count = word.utf8CodeUnitCount
            guard bytes.count - index >= count else { return false }
            for offset in 0..<count where bytes[index + offset] != word.utf8Start[offset] { return false }
            index += count
            return true
        }

        /// A JSON number's text: -?(0|[1-9][0-9]*)(.[0-9]+)?([eE][+-]?[0-9]+)?
        mutating func number() -> String? {
            let start = index
            func digits(_ index: inout Int) -> Int {
                let first = index
                while index < bytes.count, bytes[index] >= 48, bytes[index] <= 57 { index += 1 }
                return index - first
            }
            if index < bytes.count, bytes[index] == UInt8(ascii: "-") { index += 1 }
            let integerStart = index
            let integerDigits = digits(&index)
            guard integerDigits > 0, integerDigits == 1 || bytes[integerStart] != 48 else { return nil }
            if index < bytes.count, bytes[index] == UInt8(ascii: ".") {
                index += 1
                guard digits(&index) > 0 else { return nil }
            }
            if index < bytes.count, bytes[index] == UInt8(ascii: "e") || bytes[index] == UInt8(ascii: "E") {
                index += 1
                if index < bytes.count, bytes[index] == UInt8(ascii: "+") || bytes[index] == UInt8(ascii: "-") { index += 1 }
                guard digits(&index) > 0 else { return nil }
            }
            return String(decoding: UnsafeBufferPointer(rebasing: bytes[start..<index]), as: UTF8.self)
        }
    }
}
