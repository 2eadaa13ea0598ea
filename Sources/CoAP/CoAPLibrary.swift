import CCoAP
import CMCCore
import Foundation
import Logging

/// Process-wide libcoap set-up: started once, its log sent to swift-log.
///
/// libcoap reports a datagram it cannot parse only through its log ("discard malformed PDU"), and
/// its log handler takes no context pointer, so the count of such datagrams lives here.
enum CoAPLibrary {
    static let logger = Logger(label: "cmc.coap")
    static let problems = ProblemLog(connector: "coap", logger: logger)

    private static let started: Void = {
        coap_startup()
        coap_set_log_level(LOG_WARNING)
        coap_dtls_set_log_level(LOG_ERR)
        coap_set_log_handler { level, message in
            guard let message else { return }
            let text = String(cString: message).trimmingCharacters(in: .whitespacesAndNewlines)
            if text.hasPrefix("discard malformed PDU") {
                CoAPLibrary.problems.record(.malformed, detail: "a datagram that is not CoAP")
            } else if level <= LOG_ERR {
                CoAPLibrary.logger.error("\(text)")
            } else {
                CoAPLibrary.logger.debug("\(text)")
            }
        }
    }()

    static func start() { _ = started }
}
