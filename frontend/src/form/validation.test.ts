import { describe, expect, it } from "vitest";

import { type FormValues, isEmail, validate } from "./validation";

const good: FormValues = {
  firstName: "Ada",
  lastName: "Lovelace",
  email: "Ada@Example.com",
  phone: "+33 (0)6 12-34.56.78",
  company: "Analytical Engines",
  jobTitle: "",
  message: "line one\nline two",
  budget: "",
  timeline: "",
  consent: true,
};

describe("the form's checks mirror the service's", () => {
  it("accepts a complete submission", () => {
    expect([...validate(good).keys()]).toEqual([]);
  });

  it("names every missing required field, in the form's order", () => {
    const errors = validate({ ...good, firstName: " ", lastName: "", email: "", consent: false });
    expect([...errors.keys()]).toEqual(["firstName", "lastName", "email", "consent"]);
    expect(errors.get("firstName")?.key).toBe("error.required");
    expect(errors.get("consent")?.key).toBe("error.consent");
  });

  it("counts characters, not bytes, against the limits", () => {
    expect(validate({ ...good, firstName: "é".repeat(100) }).size).toBe(0);
    expect(validate({ ...good, firstName: "é".repeat(101) }).get("firstName")).toEqual({
      key: "error.tooLong",
      values: { max: 100 },
    });
    expect(validate({ ...good, message: "x".repeat(5001) }).get("message")?.key).toBe("error.tooLong");
  });

  it("refuses control characters, but not line breaks in the message", () => {
    expect(validate({ ...good, company: "a\u0007b" }).get("company")?.key).toBe("error.control");
    expect(validate({ ...good, firstName: "a\nb" }).get("firstName")?.key).toBe("error.control");
    expect(validate({ ...good, message: "a\r\n\tb" }).size).toBe(0);
  });

  it("checks emails as the server does", () => {
    for (const bad of ["ada", "ada@", "@x.y", "a b@c.d", "<a@b.c>", "a@@b.c"]) {
      expect(isEmail(bad), bad).toBe(false);
    }
    expect(isEmail("ada.lovelace+leads@example.co.uk")).toBe(true);
  });

  it("wants at least six digits in a phone number, and only phone characters", () => {
    expect(validate({ ...good, phone: "call me" }).get("phone")?.key).toBe("error.phone");
    expect(validate({ ...good, phone: "12" }).get("phone")?.key).toBe("error.phone");
    expect(validate({ ...good, phone: "" }).size).toBe(0);
  });
});
