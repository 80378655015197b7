"""Free-mail and consumer mailbox domains: an address there says nothing about a company.

A prospect at one of these domains is never linked to an account by its email domain (Hull and
Workbooks link by corporate domain). Maintained by hand: add a domain when a customer reports an
"account" named after a mailbox provider. Sources: the domains of the big consumer providers and
their country variants, disposable-mail services seen in lead forms, and ISP mailboxes.
"""

from __future__ import annotations

FREEMAIL_DOMAINS: frozenset[str] = frozenset(
    {
        # Google, Microsoft, Yahoo, Apple, AOL
        "gmail.com", "googlemail.com", "outlook.com", "outlook.de", "outlook.fr", "hotmail.com",
        "hotmail.co.uk", "hotmail.fr", "hotmail.de", "hotmail.it", "hotmail.es", "live.com",
        "live.co.uk", "live.fr", "msn.com", "passport.com", "yahoo.com", "yahoo.co.uk",
        "yahoo.fr", "yahoo.de", "yahoo.es", "yahoo.it", "yahoo.co.jp", "yahoo.com.br",
        "yahoo.co.in", "ymail.com", "rocketmail.com", "icloud.com", "me.com", "mac.com",
        "aol.com", "aim.com", "verizon.net",
        # Privacy-focused and independent providers
        "proton.me", "protonmail.com", "protonmail.ch", "pm.me", "tutanota.com", "tuta.io",
        "fastmail.com", "fastmail.fm", "hey.com", "zoho.com", "zohomail.com", "mailbox.org",
        "posteo.de", "hushmail.com", "runbox.com", "disroot.org",
        # Regional providers
        "gmx.com", "gmx.de", "gmx.net", "gmx.at", "gmx.ch", "web.de", "t-online.de",
        "freenet.de", "arcor.de", "mail.ru", "inbox.ru", "list.ru", "bk.ru", "yandex.ru",
        "yandex.com", "ya.ru", "rambler.ru", "qq.com", "163.com", "126.com", "yeah.net",
        "sina.com", "sohu.com", "aliyun.com", "naver.com", "daum.net", "hanmail.net",
        "rediffmail.com", "libero.it", "virgilio.it", "tiscali.it", "alice.it", "orange.fr",
        "wanadoo.fr", "free.fr", "laposte.net", "sfr.fr", "seznam.cz", "centrum.cz",
        "wp.pl", "o2.pl", "onet.pl", "interia.pl", "terra.com.br", "bol.com.br", "uol.com.br",
        "btinternet.com", "sky.com", "virginmedia.com", "ntlworld.com", "talktalk.net",
        "bigpond.com", "optusnet.com.au", "shaw.ca", "rogers.com", "sympatico.ca",
        "comcast.net", "att.net", "sbcglobal.net", "bellsouth.net", "cox.net", "charter.net",
        "earthlink.net", "juno.com", "netzero.net", "mail.com", "email.com", "usa.com",
        "inbox.com", "lycos.com", "excite.com",
        # Disposable mailboxes
        "mailinator.com", "guerrillamail.com", "10minutemail.com", "temp-mail.org",
        "yopmail.com", "trashmail.com", "sharklasers.com", "dispostable.com",
    }
)  # fmt: skip


def is_freemail(domain: str) -> bool:
    """Whether ``domain`` is a consumer mailbox provider."""
    return domain.strip().rstrip(".").lower() in FREEMAIL_DOMAINS


def normalize_domain(value: str) -> str:
    """``https://WWW.Acme.com/about`` -> ``acme.com`` (also the domain of an email address)."""
    domain = value.strip().lower()
    domain = domain.split("://", 1)[-1].split("/", 1)[0].split("@")[-1].rstrip(".")
    return domain.removeprefix("www.")


def corporate_domain(value: str) -> str | None:
    """The company domain ``value`` (a domain, URL or email address) names, or None when it
    names none (free mail, no dot). The one rule the dry run and the delivery both apply."""
    domain = normalize_domain(value)
    if not domain or "." not in domain or domain in FREEMAIL_DOMAINS:
        return None
    return domain
