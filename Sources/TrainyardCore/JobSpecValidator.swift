/// Checks a decoded `JobSpec` against the limits every backend can honour.
///
/// Limits follow the strictest backend we target (SageMaker: ≤ 100 env entries and
/// hyperparameters, key ≤ 256 / value ≤ 2500 characters, 28-day maximum runtime), so a spec
/// that validates here runs unchanged anywhere.
public enum JobSpecValidator {
    public static let maxEnvEntries = 100
    public static let maxEnvValueLength = 32 * 1024
    public static let maxHyperparameters = 100
    public static let maxHyperparameterKeyLength = 256
    public static let maxHyperparameterValueLength = 2500
    public static let maxLabels = 64
    public static let maxRuntimeSeconds = 28 * 24 * 3600
    public static let maxAttempts = 10
    public static let maxArgumentCount = 1024
    public static let maxArgumentLength = 64 * 1024

    /// Every violation in `spec`, in field order; empty when the spec is valid.
    public static func violations(of spec: JobSpec) -> [SpecViolation] {
        var found: [SpecViolation] = []
        func fail(_ field: String, _ message: String) { found.append(SpecViolation(field: field, message: message)) }

        if spec.apiVersion != JobSpec.currentAPIVersion {
            fail("apiVersion", "unsupported version \"\(spec.apiVersion)\" (this build reads \(JobSpec.currentAPIVersion))")
        }
        if !isName(spec.name) { fail("name", "must be 1-128 characters of letters, digits, '.', '_' or '-'") }
        if !isDNSLabel(spec.team) { fail("team", "must be 1-63 lowercase letters, digits or '-', starting and ending with a letter or digit") }
        if let image = spec.image, !isImageReference(image) {
            fail("image", "\"\(image)\" is not a valid image reference (registry/repository[:tag][@sha256:digest])")
        }
        if spec.image == nil, spec.backend == .sagemaker || spec.backend == .kubernetes {
            fail("image", "is required for the \(spec.backend.rawValue) backend")
        }
        if spec.command.isEmpty { fail("command", "must name a program") }
        let argv = spec.command + spec.args
        if argv.count > maxArgumentCount { fail("args", "at most \(maxArgumentCount) arguments") }
        if spec.command.first?.isEmpty == true { fail("command[0]", "must not be empty") }
        for (index, argument) in argv.enumerated() where argument.utf8.count > maxArgumentLength || argument.contains("\u{0}") {
            fail(
                index < spec.command.count ? "command[\(index)]" : "args[\(index - spec.command.count)]",
                "must be at most \(maxArgumentLength) bytes without NUL characters")
        }

        if spec.env.count > maxEnvEntries { fail("env", "at most \(maxEnvEntries) entries (got \(spec.env.count))") }
        for (name, value) in spec.env.sorted(by: { $0.key < $1.key }) {
            if !isIdentifier(name) { fail("env.\(name)", "is not a valid variable name ([A-Za-z_][A-Za-z0-9_]*)") }
            if value.utf8.count > maxEnvValueLength || value.contains("\u{0}") {
                fail("env.\(name)", "value must be at most \(maxEnvValueLength) bytes without NUL characters")
            }
        }
        var secretNames = Set<String>()
        for (index, secret) in spec.secrets.enumerated() {
            if !isIdentifier(secret.env) { fail("secrets[\(index)].env", "is not a valid variable name ([A-Za-z_][A-Za-z0-9_]*)") }
            if spec.env[secret.env] != nil { fail("secrets[\(index)].env", "\(secret.env) is also set in env") }
            if !secretNames.insert(secret.env).inserted { fail("secrets[\(index)].env", "\(secret.env) is listed twice") }
            if !isName(secret.secretName) { fail("secrets[\(index)].secretName", "must be 1-128 characters of letters, digits, '.', '_' or '-'") }
        }
        if spec.env.count <= maxEnvEntries, spec.env.count + spec.secrets.count > maxEnvEntries {
            fail("secrets", "env and secrets together must be at most \(maxEnvEntries) entries")
        }

        let resources = spec.resources
        if !(resources.cpu > 0 && resources.cpu <= 1024) { fail("resources.cpu", "must be > 0 and ≤ 1024 (got \(resources.cpu))") }
        if !(resources.memoryMiB > 0 && resources.memoryMiB <= 4 * 1024 * 1024) {
            fail("resources.memoryMiB", "must be > 0 and ≤ 4194304 (got \(resources.memoryMiB))")
        }
        if !(0...64).contains(resources.gpu) { fail("resources.gpu", "must be between 0 and 64 (got \(resources.gpu))") }
        if let type = resources.instanceType, !isName(type) { fail("resources.instanceType", "\"\(type)\" is not an instance type name") }

        if !(1...maxRuntimeSeconds).contains(spec.maxRuntimeSeconds) {
            fail("maxRuntimeSeconds", "must be between 1 and \(maxRuntimeSeconds) (got \(spec.maxRuntimeSeconds))")
        }
        if !(1...maxAttempts).contains(spec.retry.maxAttempts) {
            fail("retry.maxAttempts", "must be between 1 and \(maxAttempts) (got \(spec.retry.maxAttempts))")
        }
        if !(spec.retry.backoffSeconds >= 0 && spec.retry.backoffSeconds <= 3600) {
            fail("retry.backoffSeconds", "must be between 0 and 3600 (got \(spec.retry.backoffSeconds))")
        }

        if spec.hyperparameters.count > maxHyperparameters {
            fail("hyperparameters", "at most \(maxHyperparameters) entries (got \(spec.hyperparameters.count))")
        }
        for (key, value) in spec.hyperparameters.sorted(by: { $0.key < $1.key }) {
            if key.isEmpty || key.count > maxHyperparameterKeyLength {
                fail("hyperparameters.\(key)", "key must be 1-\(maxHyperparameterKeyLength) characters")
            }
            if value.count > maxHyperparameterValueLength {
                fail("hyperparameters.\(key)", "value must be at most \(maxHyperparameterValueLength) characters")
            }
        }
        for (index, input) in spec.inputs.enumerated() {
            if !isName(input.name) { fail("inputs[\(index)].name", "must be 1-128 characters of letters, digits, '.', '_' or '-'") }
            if !isURI(input.uri) { fail("inputs[\(index)].uri", "\"\(input.uri)\" is not a URI (scheme://…)") }
        }
        if let output = spec.output, !isURI(output.uri) { fail("output.uri", "\"\(output.uri)\" is not a URI (scheme://…)") }
        if let warm = spec.warmPoolSeconds, !(0...3600).contains(warm) { fail("warmPoolSeconds", "must be between 0 and 3600 (got \(warm))") }

        if spec.labels.count > maxLabels { fail("labels", "at most \(maxLabels) entries (got \(spec.labels.count))") }
        for (key, value) in spec.labels.sorted(by: { $0.key < $1.key }) {
            if !isLabelText(key, allowEmpty: false) { fail("labels.\(key)", "key must be 1-63 letters, digits, '.', '_' or '-'") }
            if !isLabelText(value, allowEmpty: true) { fail("labels.\(key)", "value must be at most 63 letters, digits, '.', '_' or '-'") }
        }
        if let key = spec.idempotencyKey, key.isEmpty || key.count > 256 || key.unicodeScalars.contains(where: { $0.value < 0x20 }) {
            fail("idempotencyKey", "must be 1-256 printable characters")
        }
        return found
    }

    // MARK: character classes

    static func isIdentifier(_ text: String) -> Bool {
        guard let first = text.unicodeScalars.first, first == "_" || isASCIILetter(first) else { return false }
        return text.unicodeScalars.allSatisfy { $0 == "_" || isASCIILetter($0) || isASCIIDigit($0) }
    }

    static func isName(_ text: String) -> Bool {
        (1...128).contains(text.count)
            && text.unicodeScalars.allSatisfy { isASCIILetter($0) || isASCIIDigit($0) || "._-".unicodeScalars.contains($0) }
    }

    static func isDNSLabel(_ text: String) -> Bool {
        let scalars = Array(text.unicodeScalars)
        guard (1...63).contains(scalars.count) else { return false }
        let lowerAlnum = { (scalar: Unicode.Scalar) in isASCIIDigit(scalar) || ("a"..."z").contains(scalar) }
        return lowerAlnum(scalars.first!) && lowerAlnum(scalars.last!) && scalars.allSatisfy { lowerAlnum($0) || $0 == "-" }
    }

    static func isLabelText(_ text: String, allowEmpty: Bool) -> Bool {
        if text.isEmpty { return allowEmpty }
        return text.count <= 63
            && text.unicodeScalars.allSatisfy { isASCIILetter($0) || isASCIIDigit($0) || "._-".unicodeScalars.contains($0) }
    }

    static func isURI(_ text: String) -> Bool {
        guard let range = text.range(of: "://"), range.lowerBound != text.startIndex, text.count <= 1024 else { return false }
        let scheme = text[..<range.lowerBound]
        return scheme.unicodeScalars.allSatisfy { isASCIILetter($0) || isASCIIDigit($0) || "+.-".unicodeScalars.contains($0) }
            && !text.unicodeScalars.contains { $0.value <= 0x20 }
    }

    /// `[registry[:port]/]path[:tag][@sha256:<64 hex>]`, the Docker reference grammar without its
    /// rarely used corners.
    static func isImageReference(_ text: String) -> Bool {
        guard (1...512).contains(text.utf8.count) else { return false }
        var remainder = Substring(text)
        if let at = remainder.firstIndex(of: "@") {
            let digest = remainder[remainder.index(after: at)...]
            guard digest.hasPrefix("sha256:"), digest.count == 71,
                digest.dropFirst(7).unicodeScalars.allSatisfy({ isASCIIDigit($0) || ("a"..."f").contains($0) })
            else { return false }
            remainder = remainder[..<at]
        }
        var components = remainder.split(separator: "/", omittingEmptySubsequences: false)
        guard var last = components.popLast(), !last.isEmpty else { return false }
        if let colon = last.lastIndex(of: ":") {
            let tag = last[last.index(after: colon)...]
            guard (1...128).contains(tag.count), let first = tag.unicodeScalars.first, first != "." && first != "-",
                tag.unicodeScalars.allSatisfy({ isASCIILetter($0) || isASCIIDigit($0) || "_.-".unicodeScalars.contains($0) })
            else { return false }
            last = last[..<colon]
        }
        components.append(last)
        if components.count > 1, let host = components.first, host.contains(".") || host.contains(":") || host == "localhost" {
            guard host.unicodeScalars.allSatisfy({ isASCIILetter($0) || isASCIIDigit($0) || ".:-".unicodeScalars.contains($0) })
            else { return false }
            components.removeFirst()
        }
        return components.allSatisfy(isPathComponent)
    }

    private static func isPathComponent(_ component: Substring) -> Bool {
        let scalars = Array(component.unicodeScalars)
        guard let first = scalars.first, let last = scalars.last else { return false }
        let lowerAlnum = { (scalar: Unicode.Scalar) in isASCIIDigit(scalar) || ("a"..."z").contains(scalar) }
        return lowerAlnum(first) && lowerAlnum(last) && scalars.allSatisfy { lowerAlnum($0) || "._-".unicodeScalars.contains($0) }
    }

    private static func isASCIILetter(_ scalar: Unicode.Scalar) -> Bool { ("a"..."z").contains(scalar) || ("A"..."Z").contains(scalar) }
    private static func isASCIIDigit(_ scalar: Unicode.Scalar) -> Bool { ("0"..."9").contains(scalar) }
}
