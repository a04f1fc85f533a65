"""Sending the buyer's RADIAN events (030, 031, 032, 033) to DIAN with the company's own software.

One module per job (docs/architecture.md, «Where things live»):

- `problems`   `RadianError` (transient or not) and `SendRefused` (a rule of ours said no)
- `cude`       the event's CUDE and SoftwareSecurityCode (SHA-384, Anexo técnico)
- `identity`   the company's PKCS#12 certificate and key, read with its password
- `settings`   [empresa] plus its secrets (PIN, certificate password) ready to sign
- `event`      the ApplicationResponse document of one event (lxml, unsigned)
- `xades`      its XAdES-EPES signature with DIAN's signature policy (python-xmlsec)
- `answer`     DIAN's answer (DianResponse) parsed: accepted, rejected, already registered
- `client`     DIAN's SOAP service (SendEventUpdateStatus, GetStatusEvent) with WS-Security (zeep)
- `sender`     the rules that protect the company and the safe, idempotent send
- `requester`  who asks (the system user at this machine), for the sends log

It sits below the engine (which may call it after a document is stored) and above the store,
dian and config; it never imports Textual.
"""
