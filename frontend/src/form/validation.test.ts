import { describe, expect, it } from "vitest";

import { type FormValues, checkAnswer, isEmail, submittedAnswer, validate } from "./validation";

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

describe("a form's own rules", () => {
  it("require what the form requires, the email and consent always, and leave out what it does not show", () => {
    const empty = { ...good, firstName: "", lastName: "", company: "", phone: "not a phone", consent: false };
    const emailOnly = validate({ ...empty, email: "" }, [{ name: "email", required: true }]);
    expect([...emailOnly.keys()]).toEqual(["email", "consent"]);
    const named = validate(empty, [
      { name: "firstName", required: true },
      { name: "email", required: true },
      { name: "company", required: true },
    ]);
    expect([...named.keys()]).toEqual(["firstName", "company", "consent"]);
  });

  it("judge answers as the service does", () => {
    const number = { id: "seats", kind: "number", label: { fr: "", en: "" }, help: { fr: "", en: "" }, required: true, bounds: { min: 1, max: 10 } } as const;
    expect(checkAnswer(number, "")?.key).toBe("error.required");
    expect(checkAnswer(number, "abc")?.key).toBe("error.notNumber");
    expect(checkAnswer(number, "11")?.values).toEqual({ min: 1, max: 10 });
    expect(checkAnswer(number, "2,5")).toBeUndefined();
    expect(submittedAnswer(number, "2,5")).toEqual({ questionId: "seats", number: 2.5 });
    const tools = { ...number, id: "tools", kind: "multiple_choice", required: false, maxChoices: 1 } as const;
    expect(checkAnswer(tools, ["a", "b"])?.key).toBe("error.choices");
    expect(submittedAnswer(tools, [])).toBeUndefined();
    const sector = { ...tools, kind: "single_choice" } as const;
    expect(submittedAnswer(sector, "saas")).toEqual({ questionId: "tools", choices: ["saas"] });
    const demo = { ...tools, kind: "yes_no" } as const;
    expect(submittedAnswer(demo, "no")).toEqual({ questionId: "tools", yes: false });
  });
});
