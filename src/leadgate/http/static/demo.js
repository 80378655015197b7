/* The demo site's own script: leadgate.js used exactly as a customer's website would use it. */
(function () {
  "use strict";
  var config = JSON.parse(document.getElementById("leadgate-config").textContent);
  var form = document.getElementById("demo-form");
  var button = document.getElementById("submit");
  var status = document.getElementById("status");

  leadgate.init({writeKey: config.writeKey, endpoint: config.endpoint});
  leadgate.page("Request a demo");

  function value(name) {
    return String(form.elements[name].value || "").trim();
  }

  function show(kind, parts) {
    status.className = kind;
    status.textContent = "";
    parts.forEach(function (part) { status.appendChild(part); });
  }

  function text(t) { return document.createTextNode(t); }

  function code(t) {
    var el = document.createElement("code");
    el.textContent = t;
    return el;
  }

  form.addEventListener("submit", function (event) {
    event.preventDefault();
    button.disabled = true;
    var name = value("name");
    var space = name.indexOf(" ");
    var traits = {
      name: name,
      firstName: space > 0 ? name.slice(0, space) : name,
      lastName: space > 0 ? name.slice(space + 1) : "",
      email: value("email"),
      company: value("company"),
      title: value("title"),
      phone: value("phone")
    };
    Object.keys(traits).forEach(function (k) { if (!traits[k]) delete traits[k]; });
    var consented = form.elements.consent.checked;
    leadgate.consent({marketing: consented});
    leadgate.identify(traits);
    leadgate.track("Demo Requested", {form: "demo"}).then(function (result) {
      button.disabled = false;
      if (!result.ok) {
        show("error", [text("Not sent (" + result.error + "). Please try again.")]);
        return;
      }
      var link = document.createElement("a");
      link.href = config.inspector + "#" + encodeURIComponent(result.messageId);
      link.textContent = "see it in the inspector";
      link.id = "inspector-link";
      show("ok", [
        text("Sent \u2014 event id "), code(result.messageId),
        text(consented ? ". Thanks, we will be in touch. " :
          ". Without marketing consent, no one will contact you. "),
        link, text(".")
      ]);
      status.setAttribute("data-message-id", result.messageId);
    });
  });
})();
