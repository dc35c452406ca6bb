import Foundation

/// A member value of a flat JSON object, as `WireJSONReader` reads it.
package enum WireJSONValue {
    case string(String)
    /// A number's text, as written.
    case number(String)
    case null

    package var string: String? { if case .string(let text) = self { text } else { nil } }
    /// An integer written without fraction or exponent (as `JSONDecoder` reads `Int`).
    package var int: Int? { if case .number(let text) = self { Int(text) } else { nil } }
    /// A number, correctly rounded (as `JSONDecoder` reads `Double`).
    package var double: Double? { if case .number(let text) = self { Double(text) } else { nil } }
}

/// Reads one flat JSON object (`{"key": "text" | integer | null, …}`) in a single pass, for the
/// codecs on the ingest path. It declines (nil) whatever it does not handle: nested values,
/// booleans, escapes, control or non-ASCII bytes in strings, duplicate
/// keys. The codecs then use Foundation's `JSONDecoder`, so both paths accept and reject the
/// same documents with the same results.
package enum WireJSONReader {
    /// Calls `member` for each member in document order; false when the document is not such an
    /// object or `member` returned false.
    package static func read(_ data: Data, _ member: (String, WireJSONValue) -> Bool) -> Bool {
        data.withUnsafeBytes { raw in
            read(raw.bindMemory(to: UInt8.self), member)
        }
    }

    /// The string whose opening quote is at `index`, when it has no escapes and only printable
    /// ASCII; `index` then moves past its closing quote. nil for anything else.
    package static func plainString(_ bytes: UnsafeBufferPointer<UInt8>, at index: inout Int) -> String? {
        guard index < bytes.count, bytes[index] == UInt8(ascii: "\"") else { return nil }
        index += 1
        let start = index
        while index < bytes.count {
            let byte = bytes[index]
            if byte == UInt8(ascii: "\"") {
                index += 1
                return String(decoding: UnsafeBufferPointer(rebasing: bytes[start..<index - 1]), as: UTF8.self)
            }
            guard byte >= 0x20, byte < 0x7F, byte != UInt8(ascii: "\\") else { return nil }
            index += 1
        }
        return nil
    }

    private static func read(_ bytes: UnsafeBufferPointer<UInt8>, _ member: (String, WireJSONValue) -> Bool) -> Bool {
        var index = 0
        let end = bytes.count
        func skipSpace() {
            while index < end, bytes[index] == 0x20 || bytes[index] == 0x0A || bytes[index] == 0x0D || bytes[index] == 0x09 { index += 1 }
        }
        func string() -> String? { plainString(bytes, at: &index) }
        /// A JSON number's text: -?(0|[1-9][0-9]*)(.[0-9]+)?([eE][+-]?[0-9]+)?
        func number() -> String? {
            let start = index
            func digits() -> Int {
                let first = index
                while index < end, bytes[index] >= 48, bytes[index] <= 57 { index += 1 }
                return index - first
            }
            if index < end, bytes[index] == UInt8(ascii: "-") { index += 1 }
            let integerStart = index
            let integerDigits = digits()
            guard integerDigits > 0, integerDigits == 1 || bytes[integerStart] != 48 else { return nil }
            if index < end, bytes[index] == UInt8(ascii: ".") {
                index += 1
                guard digits() > 0 else { return nil }
            }
            if index < end, bytes[index] == UInt8(ascii: "e") || bytes[index] == UInt8(ascii: "E") {
                index += 1
                if index < end, bytes[index] == UInt8(ascii: "+") || bytes[index] == UInt8(ascii: "-") { index += 1 }
                guard digits() > 0 else { return nil }
            }
            return String(decoding: UnsafeBufferPointer(rebasing: bytes[start..<index]), as: UTF8.self)
        }
        skipSpace()
        guard index < end, bytes[index] == UInt8(ascii: "{") else { return false }
        index += 1
        skipSpace()
        if index < end, bytes[index] == UInt8(ascii: "}") {
            index += 1
        } else {
            while true {
                skipSpace()
                guard let key = string() else { return false }
                skipSpace()
                guard index < end, bytes[index] == UInt8(ascii: ":") else { return false }
                index += 1
                skipSpace()
                guard index < end else { return false }
                let value: WireJSONValue
                switch bytes[index] {
                case UInt8(ascii: "\""):
                    guard let text = string() else { return false }
                    value = .string(text)
                case UInt8(ascii: "n"):
                    guard end - index >= 4, bytes[index + 1] == UInt8(ascii: "u"), bytes[index + 2] == UInt8(ascii: "l"),
                        bytes[index + 3] == UInt8(ascii: "l")
                    else { return false }
                    index += 4
                    value = .null
                default:
                    guard let text = number() else { return false }
                    value = .number(text)
                }
                guard member(key, value) else { return false }
                skipSpace()
                guard index < end else { return false }
                if bytes[index] == UInt8(ascii: ",") {
                    index += 1
                    continue
                }
                guard bytes[index] == UInt8(ascii: "}") else { return false }
                index += 1
                break
            }
        }
        skipSpace()
        return index == end
    }
}

/// Tracks which keys of a flat object were read, to decline duplicates.
package struct WireJSONKeys {
    private var seen: UInt32 = 0

    package init() {}

    /// False when key number `bit` was already seen.
    package mutating func first(_ bit: Int) -> Bool {
        let mask: UInt32 = 1 << UInt32(bit)
        guard seen & mask == 0 else { return false }
        seen |= mask
        return true
    }
}

/// Writes one flat JSON object byte for byte as `WireFormat.encoder()` does (members given in
/// sorted key order; absent values left out), for the codecs on the ingest path. A value it
/// cannot write identically (a control character in a string, a non-finite number, a time
/// outside 1970…9999) makes `data` nil, and the codec uses `JSONEncoder` instead.
package struct WireJSONWriter {
    private var bytes: [UInt8] = []
    private var representable = true

    package init(capacity: Int = 512) {
        bytes.reserveCapacity(capacity)
        bytes.append(UInt8(ascii: "{"))
    }

    /// The object, or nil when some value could not be written as `JSONEncoder` would.
    package var data: Data? {
        guard representable else { return nil }
        return Data(bytes) + [UInt8(ascii: "}")]
    }

    private mutating func key(_ key: StaticString) {
        if bytes.count > 1 { bytes.append(UInt8(ascii: ",")) }
        bytes.append(UInt8(ascii: "\""))
        key.withUTF8Buffer { bytes.append(contentsOf: $0) }
        bytes.append(UInt8(ascii: "\""))
        bytes.append(UInt8(ascii: ":"))
    }

    package mutating func string(_ name: StaticString, _ value: String?) {
        guard let value else { return }
        key(name)
        string(value)
    }

    private mutating func string(_ value: String) {
        if !Self.appendString(value, to: &bytes) { representable = false }
    }

    /// Appends `value` quoted as `JSONEncoder` writes it; false when it cannot (a control character).
    package static func appendString(_ value: String, to bytes: inout [UInt8]) -> Bool {
        bytes.append(UInt8(ascii: "\""))
        for byte in value.utf8 {
            switch byte {
            case UInt8(ascii: "\""), UInt8(ascii: "\\"):
                bytes.append(UInt8(ascii: "\\"))
                bytes.append(byte)
            case 0..<0x20:
                return false
            default:
                bytes.append(byte)
            }
        }
        bytes.append(UInt8(ascii: "\""))
        return true
    }

    package mutating func integer<Value: BinaryInteger>(_ name: StaticString, _ value: Value?) {
        guard let value else { return }
        key(name)
        bytes.append(contentsOf: String(value).utf8)
    }

    /// As `JSONEncoder` writes a `Double`: its description, without a trailing `.0`.
    package mutating func double(_ name: StaticString, _ value: Double?) {
        guard let value else { return }
        guard value.isFinite else {
            representable = false
            return
        }
        key(name)
        append(value)
    }

    package mutating func boolean(_ name: StaticString, _ value: Bool?) {
        guard let value else { return }
        key(name)
        bytes.append(contentsOf: (value ? "true" : "false").utf8)
    }

    /// A member whose key is only known at run time (keys must still come in sorted order).
    package mutating func double(key name: String, _ value: Double) {
        guard value.isFinite else {
            representable = false
            return
        }
        if bytes.count > 1 { bytes.append(UInt8(ascii: ",")) }
        string(name)
        bytes.append(UInt8(ascii: ":"))
        append(value)
    }

    private mutating func append(_ value: Double) {
        bytes.append(contentsOf: Self.numberText(value).utf8)
    }

    /// A finite `Double` as `JSONEncoder` writes it: its description, without a trailing `.0`.
    package static func numberText(_ value: Double) -> String {
        let text = value.description
        return text.hasSuffix(".0") ? String(text.dropLast(2)) : text
    }

    package mutating func timestamp(_ name: StaticString, _ value: Date?) {
        guard let value else { return }
        guard let text = WireTimestamp.format(milliseconds: WireFormat.milliseconds(value)) else {
            representable = false
            return
        }
        key(name)
        bytes.append(UInt8(ascii: "\""))
        bytes.append(contentsOf: text.utf8)
        bytes.append(UInt8(ascii: "\""))
    }
}
