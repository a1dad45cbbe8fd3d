// Answer types: what a question asks for, and whether a sentence holds it.
import { describe, expect, it } from "vitest";
import { answerType, countedInText, countedWords, hasAnswerOfType } from "../src/search/answertype.js";

describe("answerType", () => {
  it.each([
    ["how many people came to the opening", "number"],
    ["How much will the clinic cost?", "money"],
    ["how much did they pay for the site", "money"],
    ["how expensive is the program", "money"],
    ["how much rain fell", "number"],
    ["when do the talks start", "time"],
    ["how long has this been going on", "time"],
    ["what date was the statement issued", "time"],
    ["who is the kremlin spokesman", "name"],
    ["where did antonov give his speech", "name"],
    ["name of the tv channel?", "name"],
    ["how heavy is the new bike", "measure"],
    ["how much does the boat weigh", "measure"],
    ["how hot did it get on friday", "measure"],
    ["how deep was the water", "measure"],
    ["how old is the paddle", "measure"],
    ["how long was the meeting", "time"],
    ["what did antonov say about cyber stuff?", undefined],
    ["New START extension", undefined],
  ])("%j → %s", (question, type) => {
    expect(answerType(question)).toBe(type);
  });
});

describe("hasAnswerOfType", () => {
  it("numbers: digits or number words, not a year alone", () => {
    expect(hasAnswerOfType("About 200 people attended.", "number", "how many people came")).toBe(true);
    expect(hasAnswerOfType("About forty residents attended.", "number", "how many people came")).toBe(true);
    expect(hasAnswerOfType("The talks began in 2021.", "number", "how many people came")).toBe(false);
    expect(hasAnswerOfType("The talks went well.", "number", "how many people came")).toBe(false);
  });
  it("money: a currency sign or word next to a number", () => {
    expect(hasAnswerOfType("The wall cost £3.1 million.", "money", "how much did the wall cost")).toBe(true);
    expect(hasAnswerOfType("It is priced at 1,899 euros.", "money", "how much is it")).toBe(true);
    expect(hasAnswerOfType("The plan covers 420 homes.", "money", "how much did the plan cost")).toBe(false);
    expect(hasAnswerOfType("It now costs 58p to make.", "money", "how much does it cost to make")).toBe(true);
    expect(hasAnswerOfType("The shop shuts at 8pm.", "money", "how much does it cost")).toBe(false);
  });
  it("times: dates, weekdays, years and relative times", () => {
    expect(hasAnswerOfType("On July 6, the embassy issued a statement.", "time", "when was the statement")).toBe(true);
    expect(hasAnswerOfType("Talks will begin in a few weeks.", "time", "when do talks begin")).toBe(true);
    expect(hasAnswerOfType("The embassy issued a statement.", "time", "when was the statement")).toBe(false);
  });
  it("measures: a number with the unit the question asks for, not any number", () => {
    expect(hasAnswerOfType("The frame weighs 19.5kg, two kilos less than before.", "measure", "how heavy is the bike")).toBe(true);
    expect(hasAnswerOfType("It costs £549 and holds 1.8 litres.", "measure", "how heavy is the machine")).toBe(false);
    expect(hasAnswerOfType("The temperature reached 36.4C on Friday.", "measure", "how hot did it get")).toBe(true);
    expect(hasAnswerOfType("Water entered 45 homes.", "measure", "how deep was the water")).toBe(false);
    expect(hasAnswerOfType("The bakery was under half a metre of water.", "measure", "how deep was the water")).toBe(true);
    expect(hasAnswerOfType("The logboat, 7.4 metres long, is dated to between 1250 and 1150 BC.", "measure", "how old is the boat")).toBe(true);
    expect(hasAnswerOfType("A paddle was found 3 metres away.", "measure", "how old is the paddle")).toBe(false);
    expect(hasAnswerOfType("The comet is about 400 million kilometres from the Sun.", "measure", "how far away is the comet")).toBe(true);
  });
  it("names: a capitalised word inside the sentence that the question does not already say", () => {
    expect(hasAnswerOfType("Kremlin spokesman Dmitry Peskov told journalists.", "name", "who is the kremlin spokesman")).toBe(true);
    expect(hasAnswerOfType("The Kremlin said so.", "name", "who in the kremlin said so")).toBe(false);
    expect(hasAnswerOfType("Nobody said anything.", "name", "who said it")).toBe(false);
  });
});

describe("counted things", () => {
  it("a 'how many / how much' question counts the content words right after it", () => {
    expect(countedWords("how many league goals has he scored")).toEqual(["league", "goals"]);
    expect(countedWords("power cut how many houses")).toEqual(["houses"]);
    expect(countedWords("how much did the wall cost")).toEqual([]);
    expect(countedWords("who scored the winner")).toEqual([]);
  });
  it("a text's numbers count the words after them, read past 'of (the)', compounds joined", () => {
    const counted = countedInText("Water entered 45 homes and 12 businesses after 60 millimetres of rain; 4,000 pre-orders.");
    expect(counted).toEqual(expect.arrayContaining(["homes", "businesses", "millimetres", "rain", "preorders"]));
    // The match report counts goals and minutes, not fans.
    expect(countedInText("They won 3-2, with the winner four minutes into stoppage time.")).not.toContain("fans");
    expect(countedInText("No numbers here.")).toEqual([]);
  });
});
