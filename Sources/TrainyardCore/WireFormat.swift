import Foundation

/// JSON conventions shared by every message Trainyard writes to a topic: ISO 8601 UTC
/// timestamps with milliseconds, sorted keys (so equal values are equal bytes).
public enum WireFormat {
    public static func encoder() -> JSONEncoder {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        encoder.dateEncodingStrategy = .custom { date, encoder in
            var container = encoder.singleValueContainer()
            try container.encode(formatTimestamp(date))
        }
        return encoder
    }

    public static func decoder() -> JSONDecoder {
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .custom { decoder in
            let container = try decoder.singleValueContainer()
            let text = try container.decode(String.self)
            guard let date = parseTimestamp(text) else {
                throw DecodingError.dataCorruptedError(in: container, debugDescription: "not an ISO 8601 timestamp: \(text)")
            }
            return date
        }
        return decoder
    }

    /// `2026-11-29T04:05:06.789Z`, rounded to the nearest millisecond.
    public static func formatTimestamp(_ date: Date) -> String {
        let wholeMilliseconds = milliseconds(date)
        if let text = WireTimestamp.format(milliseconds: wholeMilliseconds) { return text }
        let seconds = wholeMilliseconds.quotientAndRemainder(dividingBy: 1000)
        let (whole, fraction) = seconds.remainder < 0 ? (seconds.quotient - 1, seconds.remainder + 1000) : seconds
        let text = Date(timeIntervalSince1970: TimeInterval(whole)).formatted(Date.ISO8601FormatStyle())
        let fractionText = String(fraction)
        return text.dropLast() + "." + String(repeating: "0", count: 3 - fractionText.count) + fractionText + "Z"
    }

    /// A time in whole milliseconds since 1970, as the wire spells it.
    package static func milliseconds(_ date: Date) -> Int64 { Int64((date.timeIntervalSince1970 * 1000).rounded()) }

    /// Accepts timestamps with or without fractional seconds; keeps millisecond precision.
    public static func parseTimestamp(_ text: String) -> Date? {
        if let milliseconds = WireTimestamp.parse(Array(text.utf8)) { return Date(timeIntervalSince1970: Double(milliseconds) / 1000) }
        guard
            let parsed = (try? Date.ISO8601FormatStyle(includingFractionalSeconds: true).parse(text))
                ?? (try? Date.ISO8601FormatStyle().parse(text))
        else { return nil }
        return Date(timeIntervalSince1970: (parsed.timeIntervalSince1970 * 1000).rounded() / 1000)
    }
}

/// A topic message whose envelope carries a `schema` version.
public protocol VersionedMessage: Codable {
    /// The schema version this build writes and reads.
    static var schemaVersion: Int { get }
    /// How errors name the message ("status", "alert").
    static var messageName: String { get }
    var schema: Int { get }
}

/// The schema key of a versioned envelope, for errors about it.
private struct SchemaKey: CodingKey {
    var stringValue = "schema"
    var intValue: Int? { nil }
    init() {}
    init?(stringValue: String) { nil }
    init?(intValue: Int) { nil }
}

extension WireFormat {
    public static func encode<Message: VersionedMessage>(_ message: Message) throws -> Data {
        try encoder().encode(message)
    }

    /// - Throws: `DecodingError` for bytes that are not a `Message` of this build's schema version.
    public static func decode<Message: VersionedMessage>(_ type: Message.Type, from bytes: Data) throws -> Message {
        let message = try decoder().decode(Message.self, from: bytes)
        guard message.schema == Message.schemaVersion else {
            throw DecodingError.dataCorrupted(
                DecodingError.Context(
                    codingPath: [SchemaKey()],
                    debugDescription:
                        "\(Message.messageName) schema version \(message.schema) is not supported (this build reads \(Message.schemaVersion))"))
        }
        return message
    }
}
