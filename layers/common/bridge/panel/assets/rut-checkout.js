/*
 * Bsale ⇄ Jumpseller: checkout helper (F14).
 *
 * - Hides the "Giro" and "Razón Social" fields while the buyer's document is "Boleta" (or not chosen yet)
 *   and shows them for "Factura".
 * - Checks the RUT (módulo 11) as it is typed and shows a message under the field.
 *
 * Paste it as it is; change only CONFIG below (or define window.RUT_CHECKOUT_CONFIG before this script).
 * Labels are compared without case, accents, "*" or "(opcional)", exactly like the integration reads the
 * order (layers/common/bridge/documents/choice.py), so what the checkout shows is what the document gets.
 * The same file runs under node for the tests: the RUT rules are exported, and nothing touches the page.
 */
(function (root) {
  'use strict';

  var CONFIG = {
    // Checkout custom field that holds the choice, and the values meaning each document.
    documentLabels: ['Tipo de Documento', 'Documento', 'Tipo de documento tributario'],
    boletaValues: ['boleta', 'boleta electronica', '39'],
    facturaValues: ['factura', 'factura electronica', '33'],
    // Fields shown only for a factura.
    facturaOnlyLabels: ['Giro', 'Giro comercial', 'Razón Social', 'Razon Social', 'Nombre o Razón Social'],
    // Where the RUT is typed: Jumpseller's "Identificador Fiscal" system field is #taxid.
    rutSelectors: ['#taxid'],
    rutLabels: ['RUT', 'RUT empresa', 'RUT de la empresa', 'Identificador Fiscal'],
    messages: {
      valid: 'RUT válido: ',
      empty: 'Ingresa el RUT de la empresa para la factura',
      invalid_characters: 'El RUT solo puede tener números, puntos, guion y K',
      out_of_range: 'Ese número no está en el rango de RUT válidos',
      wrong_check_digit: 'El dígito verificador no corresponde: revisa el RUT'
    },
    colors: { ok: '#1b7f3b', error: '#b3261e' }
  };

  var MIN_BODY = 100000; // SII: the body is a number between 100.000 and 99.999.999
  var MAX_BODY_DIGITS = 8;
  // Separators people type: dots, commas, spaces (also non-breaking) and dashes of every kind.
  var SEPARATORS = /[.,\- \t\n\r\u00a0\u202f\u2010\u2011\u2012\u2013\u2014\u2212]/g;

  // ------------------------------------------------------------------ RUT rules (mirrors bridge/documents/rut.py)

  function normalizeRut(raw) {
    return String(raw == null ? '' : raw).replace(SEPARATORS, '').toUpperCase().replace(/^0+/, '');
  }

  function checkDigit(body) {
    var digits = String(body);
    var total = 0;
    for (var i = 0; i < digits.length; i++) {
      total += Number(digits.charAt(digits.length - 1 - i)) * (2 + (i % 6));
    }
    var remainder = 11 - (total % 11);
    return remainder === 11 ? '0' : remainder === 10 ? 'K' : String(remainder);
  }

  /* {valid: true, rut: "12345678-5", display: "12.345.678-5"} or {valid: false, problem: "<code>"};
     problem codes are those of rut.py's RutProblem. */
  function validateRut(raw) {
    var compact = normalizeRut(raw);
    if (!compact) return { valid: false, problem: 'empty' };
    var body = compact.slice(0, -1);
    var dv = compact.slice(-1);
    if (!/^[0-9]+$/.test(body) || !/^[0-9K]$/.test(dv)) return { valid: false, problem: 'invalid_characters' };
    if (body.length > MAX_BODY_DIGITS || Number(body) < MIN_BODY) return { valid: false, problem: 'out_of_range' };
    if (checkDigit(body) !== dv) return { valid: false, problem: 'wrong_check_digit' };
    return {
      valid: true,
      rut: body + '-' + dv,
      display: body.replace(/\B(?=(\d{3})+(?!\d))/g, '.') + '-' + dv
    };
  }

  // ------------------------------------------------------------------ text matching (mirrors choice.py)

  function fold(text) {
    return String(text == null ? '' : text)
      .normalize('NFKD').replace(/[\u0300-\u036f]/g, '')
      .toLowerCase().replace(/\s+/g, ' ').trim();
  }

  function labelText(text) {
    return fold(String(text).replace(/\*/g, '').replace(/\((opcional|optional|obligatorio|required)\)/gi, ''));
  }

  function documentKind(value, config) {
    var folded = fold(value);
    var boleta = config.boletaValues.map(fold);
    var factura = config.facturaValues.map(fold);
    if (factura.indexOf(folded) >= 0) return 'factura';
    if (boleta.indexOf(folded) >= 0) return 'boleta';
    var words = folded.replace(/[()/]/g, ' ').split(' ');
    var saysFactura = words.some(function (w) { return factura.indexOf(w) >= 0; });
    var saysBoleta = words.some(function (w) { return boleta.indexOf(w) >= 0; });
    if (saysFactura !== saysBoleta) return saysFactura ? 'factura' : 'boleta';
    return null;
  }

  var api = {
    CONFIG: CONFIG,
    normalizeRut: normalizeRut,
    checkDigit: checkDigit,
    validateRut: validateRut,
    fold: fold,
    documentKind: documentKind
  };

  if (typeof module === 'object' && module.exports) {
    module.exports = api; // node (tests): rules only
    return;
  }
  root.RutCheckout = api;
  if (typeof document === 'undefined') return;

  // ------------------------------------------------------------------ the page

  var config = CONFIG;
  if (root.RUT_CHECKOUT_CONFIG) {
    for (var key in root.RUT_CHECKOUT_CONFIG) {
      if (Object.prototype.hasOwnProperty.call(root.RUT_CHECKOUT_CONFIG, key)) config[key] = root.RUT_CHECKOUT_CONFIG[key];
    }
  }
  var CONTROLS = 'input:not([type=hidden]), select, textarea';

  function wrapperOf(element) {
    return element.closest('.form-group, .floating-label-wrap, .form-field, .field, li, p') || element.parentElement;
  }

  /* The wrappers (label + control) of the fields whose label is one of `labels`. The checkout is rendered by
     React and may re-render at any time, so fields are looked up again on every refresh. */
  function fieldsLabelled(labels) {
    var wanted = labels.map(labelText);
    var found = [];
    var all = document.querySelectorAll('label, legend');
    for (var i = 0; i < all.length; i++) {
      if (wanted.indexOf(labelText(all[i].textContent)) < 0) continue;
      var control = all[i].htmlFor ? document.getElementById(all[i].htmlFor) : null;
      var wrapper = wrapperOf(control || all[i]);
      if (wrapper && found.indexOf(wrapper) < 0) found.push(wrapper);
    }
    var controls = document.querySelectorAll(CONTROLS);
    for (var j = 0; j < controls.length; j++) {
      var names = [controls[j].getAttribute('placeholder'), controls[j].getAttribute('aria-label')];
      for (var n = 0; n < names.length; n++) {
        if (names[n] && wanted.indexOf(labelText(names[n])) >= 0) {
          var w = wrapperOf(controls[j]);
          if (w && found.indexOf(w) < 0) found.push(w);
        }
      }
    }
    return found;
  }

  function chosenValue(wrapper) {
    var select = wrapper.querySelector('select');
    if (select && select.selectedIndex >= 0) {
      var option = select.options[select.selectedIndex];
      return option.text + ' ' + option.value;
    }
    var radio = wrapper.querySelector('input[type=radio]:checked, input[type=checkbox]:checked');
    if (radio) {
      var radioLabel = radio.id ? document.querySelector('label[for="' + radio.id + '"]') : radio.closest('label');
      return radio.value + ' ' + (radioLabel ? radioLabel.textContent : '');
    }
    if (wrapper.querySelector('input[type=radio], input[type=checkbox]')) return ''; // a group, nothing chosen
    var input = wrapper.querySelector('input:not([type=hidden]), textarea');
    if (input && input.value) return input.value;
    var label = wrapper.querySelector('label, legend'); // react-select: the chosen option is plain text
    var text = wrapper.textContent || '';
    return label ? text.replace(label.textContent, '') : text;
  }

  function currentKind() {
    var wrappers = fieldsLabelled(config.documentLabels);
    for (var i = 0; i < wrappers.length; i++) {
      var value = chosenValue(wrappers[i]);
      var kind = value ? documentKind(value, config) : null;
      if (!kind && value) {
        // the value may carry both words of the option list (react-select menus): read the first one only
        kind = documentKind(value.trim().split(/\s+/)[0], config);
      }
      if (kind) return kind;
    }
    return 'boleta'; // nothing chosen yet: the integration emits a boleta then, so nothing more is asked
  }

  function setVisible(wrapper, visible) {
    if (visible) {
      if (wrapper.getAttribute('data-rut-checkout-hidden') === '1') {
        wrapper.style.display = wrapper.getAttribute('data-rut-checkout-display') || '';
        wrapper.removeAttribute('data-rut-checkout-hidden');
      }
    } else if (wrapper.getAttribute('data-rut-checkout-hidden') !== '1') {
      wrapper.setAttribute('data-rut-checkout-display', wrapper.style.display || '');
      wrapper.setAttribute('data-rut-checkout-hidden', '1');
      wrapper.style.display = 'none';
    }
  }

  function rutInputs() {
    var inputs = [];
    config.rutSelectors.forEach(function (selector) {
      var matches = document.querySelectorAll(selector);
      for (var i = 0; i < matches.length; i++) if (inputs.indexOf(matches[i]) < 0) inputs.push(matches[i]);
    });
    fieldsLabelled(config.rutLabels).forEach(function (wrapper) {
      var input = wrapper.querySelector('input:not([type=hidden])');
      if (input && inputs.indexOf(input) < 0) inputs.push(input);
    });
    return inputs;
  }

  function messageFor(input) {
    var id = (input.id || input.name || 'rut') + '-rut-checkout-message';
    var message = document.getElementById(id);
    if (!message) {
      message = document.createElement('small');
      message.id = id;
      message.className = 'rut-checkout-message';
      message.setAttribute('role', 'status');
      message.setAttribute('aria-live', 'polite');
      message.style.display = 'block';
      message.style.marginTop = '4px';
      input.insertAdjacentElement('afterend', message);
      input.setAttribute('aria-describedby', id);
    }
    return message;
  }

  function show(input, text, ok) {
    var message = messageFor(input);
    // write only changes: the MutationObserver below would otherwise see our own edits forever
    if (message.textContent !== text) message.textContent = text;
    var color = ok ? config.colors.ok : config.colors.error;
    if (message.style.color !== color) message.style.color = color;
    if (input.setCustomValidity) input.setCustomValidity(ok || !text ? '' : text);
    input.setAttribute('aria-invalid', ok || !text ? 'false' : 'true');
  }

  function checkRut(input, kind, finished) {
    var result = validateRut(input.value);
    if (result.valid) return show(input, config.messages.valid + result.display, true);
    if (result.problem === 'empty') return show(input, kind === 'factura' && finished ? config.messages.empty : '', false);
    // while typing, wait for a plausible length before complaining
    if (!finished && normalizeRut(input.value).length < 8 && result.problem !== 'invalid_characters') {
      return show(input, '', false);
    }
    show(input, config.messages[result.problem] || config.messages.wrong_check_digit, false);
  }

  function refresh(finished) {
    var kind = currentKind();
    fieldsLabelled(config.facturaOnlyLabels).forEach(function (wrapper) { setVisible(wrapper, kind === 'factura'); });
    rutInputs().forEach(function (input) {
      if (input.value || finished || kind === 'factura') checkRut(input, kind, !!finished);
    });
  }

  var pending = false;
  function schedule() {
    if (pending) return;
    pending = true;
    setTimeout(function () { pending = false; refresh(false); }, 50);
  }

  document.addEventListener('input', schedule, true);
  document.addEventListener('change', schedule, true);
  document.addEventListener('click', schedule, true); // react-select options are clicks, not changes
  document.addEventListener('blur', function (event) {
    if (rutInputs().indexOf(event.target) >= 0) checkRut(event.target, currentKind(), true);
  }, true);
  if (root.MutationObserver) {
    new MutationObserver(schedule).observe(document.documentElement, { childList: true, subtree: true });
  }
  if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', schedule);
  else schedule();
})(typeof window !== 'undefined' ? window : this);
