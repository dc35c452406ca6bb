import CYaml
import Foundation
import Yams

/// Reads a YAML job spec into a tree in one pass over libyaml's events, refusing what a spec
/// never needs and what would make reading it costly before anything is built from it:
/// aliases and anchors (a 500-byte document of nested aliases expands to gigabytes), merge keys,
/// explicit tags, keys that are not text, duplicate keys, more than one document, and nesting
/// deeper than `maxDepth`. The tree it returns holds each node of the text once.
enum SpecYAMLReader {
    /// Deepest nesting of mappings and sequences accepted (a spec needs four).
    static let maxDepth = 32

    /// The document's root node.
    /// - Throws: `InvalidSpecError` naming the field (when there is one), the line and the problem.
    static func read(_ text: String) throws(InvalidSpecError) -> Node {
        // libyaml needs a non-null buffer: an empty text reads as a blank line (an empty document).
        let bytes = text.isEmpty ? [UInt8(ascii: "\n")] : Array(text.utf8)
        let result = bytes.withUnsafeBufferPointer { buffer -> Result<Node, InvalidSpecError> in
            do throws(InvalidSpecError) {
                return .success(try EventStream(buffer).document())
            } catch {
                return .failure(error)
            }
        }
        return try result.get()
    }

    /// libyaml's parser over one buffer, which must outlive the reading (a class: the C parser
    /// must not move in memory).
    private final class EventStream {
        private var parser = yaml_parser_t()
        private let started: Bool

        init(_ buffer: UnsafeBufferPointer<UInt8>) {
            started = yaml_parser_initialize(&parser) == 1
            guard started else { return }
            yaml_parser_set_encoding(&parser, YAML_UTF8_ENCODING)
            yaml_parser_set_input_string(&parser, buffer.baseAddress, buffer.count)
        }

        deinit {
            if started { yaml_parser_delete(&parser) }
        }

        /// The stream's only document.
        func document() throws(InvalidSpecError) -> Node {
            guard started else { throw InvalidSpecError([SpecViolation(field: "", message: "cannot start the YAML parser")]) }
            try expect(YAML_STREAM_START_EVENT)
            let first = try next()
            guard first.type == YAML_DOCUMENT_START_EVENT else {
                throw Self.problem("", first, "the document is empty; send a job spec")
            }
            let root = try node(from: try next(), path: "", depth: 1)
            try expect(YAML_DOCUMENT_END_EVENT)
            let end = try next()
            guard end.type == YAML_STREAM_END_EVENT else {
                throw Self.problem("", end, "holds more than one YAML document (---); give one spec per document")
            }
            return root
        }

        private func node(from event: Event, path: String, depth: Int) throws(InvalidSpecError) -> Node {
            switch event.type {
            case YAML_ALIAS_EVENT:
                throw Self.problem(path, event, "uses a YAML alias (*name); aliases and anchors are not accepted in a job spec: write the value out")
            case YAML_SCALAR_EVENT:
                let scalar = event.raw.data.scalar
                try Self.refuseAnchorAndTag(anchor: scalar.anchor, tag: scalar.tag, path: path, event)
                let value = String(decoding: UnsafeBufferPointer(start: scalar.value, count: scalar.length), as: UTF8.self)
                // Quoted and block scalars are text. As with YAMLDecoder, no tag is resolved from a
                // plain scalar's text (its type is the field's); a plain `<<` key is refused as a merge key.
                let tag = Tag(scalar.quoted_implicit == 1 ? .str : .implicit, .basic)
                let style = Node.Scalar.Style(rawValue: numericCast(scalar.style.rawValue)) ?? .any
                return .scalar(Node.Scalar(value, tag, style))
            case YAML_SEQUENCE_START_EVENT:
                let start = event.raw.data.sequence_start
                try Self.refuseAnchorAndTag(anchor: start.anchor, tag: start.tag, path: path, event)
                guard depth <= SpecYAMLReader.maxDepth else {
                    throw Self.problem(path, event, "is nested more than \(SpecYAMLReader.maxDepth) levels deep")
                }
                var items: [Node] = []
                while true {
                    let item = try next()
                    if item.type == YAML_SEQUENCE_END_EVENT { break }
                    items.append(try node(from: item, path: "\(path)[\(items.count)]", depth: depth + 1))
                }
                return .sequence(Node.Sequence(items, Tag(.implicit, .basic)))
            case YAML_MAPPING_START_EVENT:
                let start = event.raw.data.mapping_start
                try Self.refuseAnchorAndTag(anchor: start.anchor, tag: start.tag, path: path, event)
                guard depth <= SpecYAMLReader.maxDepth else {
                    throw Self.problem(path, event, "is nested more than \(SpecYAMLReader.maxDepth) levels deep")
                }
                var pairs: [(Node, Node)] = []
                var keys = Set<String>()
                while true {
                    let keyEvent = try next()
                    if keyEvent.type == YAML_MAPPING_END_EVENT { break }
                    guard keyEvent.type == YAML_SCALAR_EVENT else {
                        if keyEvent.type == YAML_ALIAS_EVENT { _ = try node(from: keyEvent, path: path, depth: depth + 1) }
                        throw Self.problem(path, keyEvent, "has a key that is not text")
                    }
                    let key = try node(from: keyEvent, path: path, depth: depth + 1)
                    let name = key.scalar?.string ?? ""
                    let field = path.isEmpty ? name : "\(path).\(name)"
                    if name == "<<" && keyEvent.raw.data.scalar.style == YAML_PLAIN_SCALAR_STYLE {
                        throw Self.problem(field, keyEvent, "is a YAML merge key; merge keys are not accepted in a job spec")
                    }
                    guard keys.insert(name).inserted else { throw Self.problem(field, keyEvent, "is given twice") }
                    pairs.append((key, try node(from: try next(), path: field, depth: depth + 1)))
                }
                return .mapping(Node.Mapping(pairs, Tag(.implicit, .basic)))
            default:
                throw Self.problem(path, event, "is not a YAML value")
            }
        }

        private func expect(_ type: yaml_event_type_t) throws(InvalidSpecError) {
            let event = try next()
            guard event.type == type else { throw Self.problem("", event, "is not a single YAML document") }
        }

        private func next() throws(InvalidSpecError) -> Event {
            let event = Event()
            guard yaml_parser_parse(&parser, &event.raw) == 1 else {
                let problem = parser.problem.map { String(cString: $0) } ?? "unknown error"
                let mark = parser.problem_mark
                throw InvalidSpecError([
                    SpecViolation(field: "", message: "not valid YAML: \(problem) (line \(mark.line + 1), column \(mark.column + 1))")
                ])
            }
            return event
        }

        private static func refuseAnchorAndTag(
            anchor: UnsafeMutablePointer<UInt8>?, tag: UnsafeMutablePointer<UInt8>?, path: String, _ event: Event
        ) throws(InvalidSpecError) {
            if let anchor {
                let name = String(cString: anchor)
                throw problem(path, event, "has a YAML anchor (&\(name)); anchors and aliases are not accepted in a job spec")
            }
            if let tag {
                let name = String(cString: tag)
                throw problem(path, event, "has a YAML tag (\(name)); tags are not accepted in a job spec (quote the value to make it text)")
            }
        }

        private static func problem(_ field: String, _ event: Event, _ message: String) -> InvalidSpecError {
            InvalidSpecError([SpecViolation(field: field, message: "\(message) (line \(event.mark.line), column \(event.mark.column))")])
        }
    }

    /// One libyaml event, freed when the last reference goes.
    private final class Event {
        var raw = yaml_event_t()
        var type: yaml_event_type_t { raw.type }
        /// Where the event starts, counted from 1.
        var mark: (line: Int, column: Int) { (raw.start_mark.line + 1, raw.start_mark.column + 1) }
        deinit { yaml_event_delete(&raw) }
    }
}
